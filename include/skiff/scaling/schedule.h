// Schedule: when a PutScheduledAction's Schedule fires, in its Timezone, within its StartTime
// and EndTime. A parsed, immutable value; pure (no clock: the caller passes the times), so any
// thread may use it. The API parses at PutScheduledAction time (the InvalidArgument messages
// are written to be returned as a ValidationException as they are) and the scaling wiring asks
// NextAfter(last checked) to see whether an action is due.
//
// Expressions, as Application Auto Scaling documents them:
//  - at(yyyy-mm-ddThh:mm:ss): once, at that local time in the Timezone.
//  - rate(value unit): value a positive integer, unit minute|hour|day, singular when the value
//    is 1 and plural otherwise (EventBridge's rule, which AWS applies: "rate(1 minutes)" and
//    "rate(5 minute)" are errors). Counted from StartTime when given, else from the anchor
//    (when the action was put): anchor + k × period, k >= 1. Not affected by DST (a period is
//    absolute time).
//  - cron(Minutes Hours Day-of-month Month Day-of-week Year): six fields, EventBridge's syntax.
//      field 1 Minutes       0-59                 , - * /
//      field 2 Hours         0-23                 , - * /
//      field 3 Day-of-month  1-31                 , - * ? / L W   (L, LW, nW)
//      field 4 Month         1-12 or JAN-DEC      , - * /
//      field 5 Day-of-week   1-7 or SUN-SAT       , - * ? L #     (1 = SUN; L = SAT, nL = last
//                                                                  n-day of the month, n#k =
//                                                                  k-th n-day, k 1-5)
//      field 6 Year          1970-2199            , - * /
//    Exactly one of Day-of-month and Day-of-week is '?'. a/b means a, a+b, ... up to the
//    field's maximum; a-b/c likewise within the range; a range must not run backwards. nW is
//    the weekday (Mon-Fri) nearest day n within the same month (Quartz's rule: 1W on a Saturday
//    is Monday the 3rd); LW the last weekday. L, W and # stand alone in their field (no lists).
//    Names are case-insensitive. Errors name the field: "Invalid schedule expression
//    'cron(0 0 32 * ? *)': field 3 (Day-of-month): '32' is out of range 1-31".
// Timezone: an IANA name (absl::LoadTimeZone; "" means UTC). at() and cron() are local times in
// it. Local times that do not exist or happen twice (DST) are our choice, since AWS does not
// document it: a local time skipped by a spring-forward fires at the instant it would have been
// under the offset before the change (02:30 on a day New York jumps 02:00 -> 03:00 fires at
// 03:30 EDT, i.e. one hour after 01:30 EST, once); a local time that happens twice in a
// fall-back fires once, at its first occurrence (01:30 EDT, not 01:30 EST). That is absl's
// TimeZone::At(civil).pre.
// StartTime/EndTime (UTC instants): for rate() and cron(), AWS "performs the action at [the
// start] time, and then performs the action based on the specified recurrence", so StartTime
// is itself a firing and cron() occurrences before it are skipped; nothing fires after
// EndTime. For at(), a time outside [StartTime, EndTime] never fires (ours).
#ifndef SKIFF_SCALING_SCHEDULE_H_
#define SKIFF_SCALING_SCHEDULE_H_

#include <bitset>
#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/civil_time.h"
#include "absl/time/time.h"

namespace skiff::scaling {

struct ScheduleBounds {
  std::optional<absl::Time> start_time;  // StartTime.
  std::optional<absl::Time> end_time;    // EndTime; must be after StartTime.
  // When the action was put (or last changed): where rate() counts from without a StartTime.
  absl::Time anchor = absl::UnixEpoch();
};

class Schedule {
 public:
  enum class Kind { kAt, kRate, kCron };

  // InvalidArgument for a malformed expression, an unknown time zone or EndTime <= StartTime,
  // with a message that quotes the expression and names what is wrong.
  static absl::StatusOr<Schedule> Parse(absl::string_view expression, absl::string_view timezone,
                                        const ScheduleBounds& bounds = {});

  // The first firing strictly after `after`; none when there is no more (an at() in the past,
  // past EndTime, a cron() whose last Year has gone).
  std::optional<absl::Time> NextAfter(absl::Time after) const;

  Kind kind() const { return kind_; }
  const std::string& expression() const { return expression_; }
  const absl::TimeZone& time_zone() const { return tz_; }

 private:
  // A cron field as the set of values it allows, offset so that bit 0 is the field's minimum.
  struct CronSpec {
    std::bitset<60> minutes;
    std::bitset<24> hours;
    std::bitset<32> days_of_month;  // Bit d for day d (bit 0 unused).
    std::bitset<13> months;         // Bit m for month m (bit 0 unused).
    std::bitset<8> days_of_week;    // Bit d for 1 = SUN .. 7 = SAT (bit 0 unused).
    std::bitset<230> years;         // Bit y - 1970.
    bool day_of_month_any = false;  // '?' in field 3: the day is chosen by field 5.
    bool last_day_of_month = false;          // L
    bool last_weekday_of_month = false;      // LW
    int nearest_weekday_to = 0;              // nW: n, else 0.
    int last_day_of_week = 0;                // nL: n (1-7), else 0.
    int nth_day_of_week = 0;                 // n#k: n (1-7), else 0 ...
    int nth_occurrence = 0;                  // ... and k (1-5).
  };

  Schedule() = default;
  bool InBounds(absl::Time t) const;
  bool CronDayMatches(absl::CivilDay day) const;
  std::optional<absl::CivilMinute> NextCronMinute(absl::CivilMinute from) const;
  std::optional<absl::Time> NextCronAfter(absl::Time after) const;
  std::optional<absl::Time> NextRateAfter(absl::Time after) const;

  friend class ScheduleParser;

  Kind kind_ = Kind::kAt;
  std::string expression_;
  absl::TimeZone tz_ = absl::UTCTimeZone();
  ScheduleBounds bounds_;
  absl::CivilSecond at_;                          // kAt.
  absl::Duration period_ = absl::ZeroDuration();  // kRate.
  CronSpec cron_;                                 // kCron.
};

}  // namespace skiff::scaling

#endif  // SKIFF_SCALING_SCHEDULE_H_
