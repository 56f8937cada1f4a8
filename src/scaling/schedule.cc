#include "skiff/scaling/schedule.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/types/span.h"

namespace skiff::scaling {
namespace {

constexpr int kFirstYear = 1970;
constexpr int kLastYear = 2199;

constexpr absl::string_view kMonthNames[] = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                              "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr absl::string_view kWeekdayNames[] = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

// One of cron()'s six fields: its position, name and range, and the names it accepts (the
// first name stands for `min`).
struct Field {
  int position;
  const char* name;
  int min;
  int max;
  absl::Span<const absl::string_view> names;
};

constexpr Field kMinutes{1, "Minutes", 0, 59, {}};
constexpr Field kHours{2, "Hours", 0, 23, {}};
constexpr Field kDayOfMonth{3, "Day-of-month", 1, 31, {}};
constexpr Field kMonth{4, "Month", 1, 12, kMonthNames};
constexpr Field kDayOfWeek{5, "Day-of-week", 1, 7, kWeekdayNames};
constexpr Field kYear{6, "Year", kFirstYear, kLastYear, {}};

std::string FieldLabel(const Field& field) {
  return absl::StrCat("field ", field.position, " (", field.name, ")");
}

// The values a field allows, index value - field.min.
using Allowed = std::vector<bool>;

int DaysInMonth(absl::civil_year_t year, int month) {
  return static_cast<int>(absl::CivilDay(absl::CivilMonth(year, month) + 1) -
                          absl::CivilDay(absl::CivilMonth(year, month)));
}

// 1 = Sunday .. 7 = Saturday, as cron() counts.
int CronWeekday(absl::CivilDay day) {
  return (static_cast<int>(absl::GetWeekday(day)) + 1) % 7 + 1;
}

bool IsWeekend(absl::CivilDay day) {
  const int weekday = CronWeekday(day);
  return weekday == 1 || weekday == 7;
}

// Quartz's nW: the weekday nearest day n, never leaving the month.
absl::CivilDay NearestWeekday(absl::CivilDay target, int days_in_month) {
  if (CronWeekday(target) == 7) return target.day() == 1 ? target + 2 : target - 1;
  if (CronWeekday(target) == 1) return target.day() == days_in_month ? target - 2 : target + 1;
  return target;
}

}  // namespace

// The parser: a friend of Schedule, so that it may fill the private CronSpec.
class ScheduleParser {
 public:
  explicit ScheduleParser(absl::string_view expression) : expression_(expression) {}

  absl::Status Error(absl::string_view what) const {
    return absl::InvalidArgumentError(
        absl::StrCat("Invalid schedule expression '", expression_, "': ", what));
  }
  absl::Status FieldError(const Field& field, absl::string_view what) const {
    return Error(absl::StrCat(FieldLabel(field), ": ", what));
  }

  absl::Status ParseAt(absl::string_view text, Schedule& schedule) const;
  absl::Status ParseRate(absl::string_view text, Schedule& schedule) const;
  absl::Status ParseCron(absl::string_view text, Schedule& schedule) const;

 private:
  absl::StatusOr<int> ParseValue(const Field& field, absl::string_view text) const;
  absl::Status ParseElement(const Field& field, absl::string_view element, Allowed& allowed) const;
  absl::StatusOr<Allowed> ParseList(const Field& field, absl::string_view text) const;
  absl::Status ParseDayOfMonth(absl::string_view text, Schedule::CronSpec& spec) const;
  absl::Status ParseDayOfWeek(absl::string_view text, Schedule::CronSpec& spec) const;

  absl::string_view expression_;
};

absl::Status ScheduleParser::ParseAt(absl::string_view text, Schedule& schedule) const {
  // yyyy-mm-ddThh:mm:ss, exactly.
  static constexpr absl::string_view kShape = "dddd-dd-ddTdd:dd:dd";
  bool shaped = text.size() == kShape.size();
  for (size_t i = 0; shaped && i < text.size(); ++i) {
    shaped = kShape[i] == 'd' ? absl::ascii_isdigit(text[i]) : text[i] == kShape[i];
  }
  if (!shaped) return Error("at() takes a time as yyyy-mm-ddThh:mm:ss");
  auto number = [text](size_t pos, size_t len) {
    int value = 0;
    (void)absl::SimpleAtoi(text.substr(pos, len), &value);
    return value;
  };
  const int year = number(0, 4), month = number(5, 2), day = number(8, 2);
  const int hour = number(11, 2), minute = number(14, 2), second = number(17, 2);
  const absl::CivilSecond at(year, month, day, hour, minute, second);
  if (at.year() != year || at.month() != month || at.day() != day || at.hour() != hour ||
      at.minute() != minute || at.second() != second) {
    return Error(absl::StrCat("'", text, "' is not a date and time"));
  }
  schedule.at_ = at;
  return absl::OkStatus();
}

absl::Status ScheduleParser::ParseRate(absl::string_view text, Schedule& schedule) const {
  const std::vector<absl::string_view> parts = absl::StrSplit(text, ' ');
  int value = 0;
  if (parts.size() != 2 || parts[0].empty() ||
      !std::all_of(parts[0].begin(), parts[0].end(), absl::ascii_isdigit) ||
      !absl::SimpleAtoi(parts[0], &value) || value <= 0) {
    return Error("rate() takes a positive whole number and a unit, as rate(5 minutes)");
  }
  struct Unit {
    absl::string_view singular;
    absl::Duration length;
  };
  static const std::array<Unit, 3> kUnits = {{{"minute", absl::Minutes(1)},
                                              {"hour", absl::Hours(1)},
                                              {"day", absl::Hours(24)}}};
  for (const Unit& unit : kUnits) {
    const std::string plural = absl::StrCat(unit.singular, "s");
    if (parts[1] != unit.singular && parts[1] != plural) continue;
    if (value == 1 && parts[1] != unit.singular) {
      return Error(absl::StrCat("rate() with the value 1 takes the singular unit '",
                                unit.singular, "'"));
    }
    if (value != 1 && parts[1] == unit.singular) {
      return Error(absl::StrCat("rate() with a value above 1 takes the plural unit '", plural,
                                "'"));
    }
    schedule.period_ = value * unit.length;
    return absl::OkStatus();
  }
  return Error(absl::StrCat("rate() unit '", parts[1],
                            "' is not one of minute, minutes, hour, hours, day, days"));
}

absl::StatusOr<int> ScheduleParser::ParseValue(const Field& field, absl::string_view text) const {
  int value = 0;
  if (!text.empty() && std::all_of(text.begin(), text.end(), absl::ascii_isdigit) &&
      absl::SimpleAtoi(text, &value)) {
    if (value < field.min || value > field.max) {
      return FieldError(field, absl::StrCat("'", text, "' is out of range ", field.min, "-",
                                            field.max));
    }
    return value;
  }
  const std::string upper = absl::AsciiStrToUpper(text);
  for (size_t i = 0; i < field.names.size(); ++i) {
    if (field.names[i] == upper) return field.min + static_cast<int>(i);
  }
  return FieldError(field, absl::StrCat("'", text, "' is not a value (", field.min, "-",
                                        field.max, field.names.empty() ? "" : " or a name",
                                        ")"));
}

absl::Status ScheduleParser::ParseElement(const Field& field, absl::string_view element,
                                          Allowed& allowed) const {
  absl::string_view range = element;
  int step = 1;
  bool stepped = false;
  if (const size_t slash = element.find('/'); slash != absl::string_view::npos) {
    range = element.substr(0, slash);
    const absl::string_view step_text = element.substr(slash + 1);
    if (!absl::SimpleAtoi(step_text, &step) || step <= 0 ||
        !std::all_of(step_text.begin(), step_text.end(), absl::ascii_isdigit)) {
      return FieldError(field, absl::StrCat("'", step_text, "' in '", element,
                                            "' is not a positive step"));
    }
    stepped = true;
  }
  int first = field.min, last = field.max;
  if (range != "*") {
    const size_t dash = range.find('-');
    absl::StatusOr<int> from = ParseValue(field, range.substr(0, dash));
    if (!from.ok()) return from.status();
    first = *from;
    // a/b runs to the field's end; a alone is just a.
    last = stepped ? field.max : first;
    if (dash != absl::string_view::npos) {
      absl::StatusOr<int> to = ParseValue(field, range.substr(dash + 1));
      if (!to.ok()) return to.status();
      if (*to < first) {
        return FieldError(field, absl::StrCat("the range '", range, "' runs backwards"));
      }
      last = *to;
    }
  }
  for (int v = first; v <= last; v += step) allowed[v - field.min] = true;
  return absl::OkStatus();
}

absl::StatusOr<Allowed> ScheduleParser::ParseList(const Field& field,
                                                  absl::string_view text) const {
  if (text == "?") {
    return FieldError(field, "'?' is only allowed in field 3 (Day-of-month) and field 5 "
                             "(Day-of-week)");
  }
  Allowed allowed(field.max - field.min + 1, false);
  for (absl::string_view element : absl::StrSplit(text, ',')) {
    if (element.empty()) return FieldError(field, absl::StrCat("'", text, "' has an empty item"));
    if (absl::StrContains(element, '?') || absl::StrContains(element, '#')) {
      return FieldError(field, absl::StrCat("'", element, "': '?' stands alone, and only in "
                                            "fields 3 and 5; '#' only in field 5"));
    }
    if (absl::Status status = ParseElement(field, element, allowed); !status.ok()) return status;
  }
  return allowed;
}

absl::Status ScheduleParser::ParseDayOfMonth(absl::string_view text,
                                             Schedule::CronSpec& spec) const {
  const std::string upper = absl::AsciiStrToUpper(text);
  if (upper == "?") {
    spec.day_of_month_any = true;
    return absl::OkStatus();
  }
  if (upper == "L") {
    spec.last_day_of_month = true;
    return absl::OkStatus();
  }
  if (upper == "LW") {
    spec.last_weekday_of_month = true;
    return absl::OkStatus();
  }
  if (upper.size() > 1 && upper.back() == 'W') {
    absl::StatusOr<int> day = ParseValue(kDayOfMonth, absl::string_view(upper).substr(
                                                          0, upper.size() - 1));
    if (!day.ok()) return day.status();
    spec.nearest_weekday_to = *day;
    return absl::OkStatus();
  }
  if (absl::StrContains(upper, 'L') || absl::StrContains(upper, 'W')) {
    return FieldError(kDayOfMonth, absl::StrCat("'", text, "': L, LW and nW stand alone"));
  }
  absl::StatusOr<Allowed> allowed = ParseList(kDayOfMonth, text);
  if (!allowed.ok()) return allowed.status();
  for (int d = 1; d <= 31; ++d) spec.days_of_month[d] = (*allowed)[d - 1];
  return absl::OkStatus();
}

absl::Status ScheduleParser::ParseDayOfWeek(absl::string_view text,
                                            Schedule::CronSpec& spec) const {
  const std::string upper = absl::AsciiStrToUpper(text);
  const bool single = upper.find_first_of(",-/*") == std::string::npos;
  if (upper == "?") return absl::OkStatus();
  if (const size_t hash = upper.find('#'); hash != std::string::npos) {
    if (!single) return FieldError(kDayOfWeek, absl::StrCat("'", text, "': n#k stands alone"));
    absl::StatusOr<int> weekday = ParseValue(kDayOfWeek, absl::string_view(upper).substr(0, hash));
    if (!weekday.ok()) return weekday.status();
    int nth = 0;
    if (!absl::SimpleAtoi(absl::string_view(upper).substr(hash + 1), &nth) || nth < 1 || nth > 5) {
      return FieldError(kDayOfWeek, absl::StrCat("'", text, "': the k of n#k is 1-5"));
    }
    spec.nth_day_of_week = *weekday;
    spec.nth_occurrence = nth;
    return absl::OkStatus();
  }
  if (upper == "L") {
    spec.days_of_week[7] = true;  // Alone, L is the last day of the week: Saturday.
    return absl::OkStatus();
  }
  if (upper.size() > 1 && upper.back() == 'L') {
    if (!single) return FieldError(kDayOfWeek, absl::StrCat("'", text, "': nL stands alone"));
    absl::StatusOr<int> weekday =
        ParseValue(kDayOfWeek, absl::string_view(upper).substr(0, upper.size() - 1));
    if (!weekday.ok()) return weekday.status();
    spec.last_day_of_week = *weekday;
    return absl::OkStatus();
  }
  absl::StatusOr<Allowed> allowed = ParseList(kDayOfWeek, text);
  if (!allowed.ok()) return allowed.status();
  for (int d = 1; d <= 7; ++d) spec.days_of_week[d] = (*allowed)[d - 1];
  return absl::OkStatus();
}

absl::Status ScheduleParser::ParseCron(absl::string_view text, Schedule& schedule) const {
  const std::vector<absl::string_view> fields =
      absl::StrSplit(text, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  if (fields.size() != 6) {
    return Error(absl::StrCat("cron() takes 6 fields (Minutes Hours Day-of-month Month "
                              "Day-of-week Year), got ",
                              fields.size()));
  }
  const bool dom_any = fields[2] == "?", dow_any = fields[4] == "?";
  if (dom_any == dow_any) {
    return Error("exactly one of field 3 (Day-of-month) and field 5 (Day-of-week) must be '?'");
  }
  Schedule::CronSpec& spec = schedule.cron_;
  absl::StatusOr<Allowed> minutes = ParseList(kMinutes, fields[0]);
  if (!minutes.ok()) return minutes.status();
  absl::StatusOr<Allowed> hours = ParseList(kHours, fields[1]);
  if (!hours.ok()) return hours.status();
  if (absl::Status s = ParseDayOfMonth(fields[2], spec); !s.ok()) return s;
  absl::StatusOr<Allowed> months = ParseList(kMonth, fields[3]);
  if (!months.ok()) return months.status();
  if (absl::Status s = ParseDayOfWeek(fields[4], spec); !s.ok()) return s;
  absl::StatusOr<Allowed> years = ParseList(kYear, fields[5]);
  if (!years.ok()) return years.status();
  for (int i = 0; i < 60; ++i) spec.minutes[i] = (*minutes)[i];
  for (int i = 0; i < 24; ++i) spec.hours[i] = (*hours)[i];
  for (int i = 1; i <= 12; ++i) spec.months[i] = (*months)[i - 1];
  for (int i = 0; i <= kLastYear - kFirstYear; ++i) spec.years[i] = (*years)[i];
  return absl::OkStatus();
}

absl::StatusOr<Schedule> Schedule::Parse(absl::string_view expression, absl::string_view timezone,
                                         const ScheduleBounds& bounds) {
  Schedule schedule;
  schedule.expression_ = std::string(expression);
  schedule.bounds_ = bounds;
  if (!timezone.empty() && !absl::LoadTimeZone(std::string(timezone), &schedule.tz_)) {
    return absl::InvalidArgumentError(
        absl::StrCat("Timezone '", timezone, "' is not an IANA time zone name"));
  }
  if (bounds.start_time && bounds.end_time && *bounds.end_time <= *bounds.start_time) {
    return absl::InvalidArgumentError("EndTime must be after StartTime");
  }
  const ScheduleParser parser(expression);
  struct Form {
    absl::string_view prefix;
    Kind kind;
    absl::Status (ScheduleParser::*parse)(absl::string_view, Schedule&) const;
  };
  static const std::array<Form, 3> kForms = {{{"at(", Kind::kAt, &ScheduleParser::ParseAt},
                                              {"rate(", Kind::kRate, &ScheduleParser::ParseRate},
                                              {"cron(", Kind::kCron, &ScheduleParser::ParseCron}}};
  for (const Form& form : kForms) {
    if (!absl::StartsWith(expression, form.prefix)) continue;
    if (!absl::EndsWith(expression, ")")) return parser.Error("the expression must end with ')'");
    absl::string_view inner = expression.substr(form.prefix.size());
    inner.remove_suffix(1);
    schedule.kind_ = form.kind;
    if (absl::Status status = (parser.*form.parse)(inner, schedule); !status.ok()) return status;
    return schedule;
  }
  return parser.Error("a schedule is at(yyyy-mm-ddThh:mm:ss), rate(value unit) or cron(fields)");
}

bool Schedule::InBounds(absl::Time t) const {
  return (!bounds_.start_time || t >= *bounds_.start_time) &&
         (!bounds_.end_time || t <= *bounds_.end_time);
}

bool Schedule::CronDayMatches(absl::CivilDay day) const {
  const CronSpec& c = cron_;
  const int days_in_month = DaysInMonth(day.year(), day.month());
  if (!c.day_of_month_any) {
    if (c.last_day_of_month) return day.day() == days_in_month;
    if (c.last_weekday_of_month) {
      absl::CivilDay last(day.year(), day.month(), days_in_month);
      while (IsWeekend(last)) last -= 1;
      return day == last;
    }
    if (c.nearest_weekday_to != 0) {
      if (c.nearest_weekday_to > days_in_month) return false;
      const absl::CivilDay target(day.year(), day.month(), c.nearest_weekday_to);
      return day == NearestWeekday(target, days_in_month);
    }
    return c.days_of_month[day.day()];
  }
  const int weekday = CronWeekday(day);
  if (c.last_day_of_week != 0) {
    return weekday == c.last_day_of_week && day.day() + 7 > days_in_month;
  }
  if (c.nth_day_of_week != 0) {
    return weekday == c.nth_day_of_week && (day.day() - 1) / 7 + 1 == c.nth_occurrence;
  }
  return c.days_of_week[weekday];
}

std::optional<absl::CivilMinute> Schedule::NextCronMinute(absl::CivilMinute from) const {
  absl::CivilDay day(from);
  while (day.year() <= kLastYear) {
    if (day.year() < kFirstYear || !cron_.years[day.year() - kFirstYear]) {
      day = absl::CivilDay(absl::CivilYear(day) + 1);
      continue;
    }
    if (!cron_.months[day.month()]) {
      day = absl::CivilDay(absl::CivilMonth(day) + 1);
      continue;
    }
    if (CronDayMatches(day)) {
      const bool first_day = day == absl::CivilDay(from);
      for (int h = first_day ? from.hour() : 0; h < 24; ++h) {
        if (!cron_.hours[h]) continue;
        const bool first_hour = first_day && h == from.hour();
        for (int m = first_hour ? from.minute() : 0; m < 60; ++m) {
          if (cron_.minutes[m]) return absl::CivilMinute(day.year(), day.month(), day.day(), h, m);
        }
      }
    }
    day += 1;
  }
  return std::nullopt;
}

std::optional<absl::Time> Schedule::NextCronAfter(absl::Time after) const {
  absl::CivilMinute cursor = absl::CivilMinute(tz_.At(after).cs) + 1;
  // A local time that happens twice maps to its first occurrence, which may be before `after`:
  // look further. Each turn moves the cursor on, and a day has at most 1440 minutes.
  for (int turn = 0; turn < 2 * 24 * 60; ++turn) {
    std::optional<absl::CivilMinute> next = NextCronMinute(cursor);
    if (!next) return std::nullopt;
    const absl::Time t = tz_.At(absl::CivilSecond(*next)).pre;
    if (t > after) return t;
    cursor = *next + 1;
  }
  return std::nullopt;
}

std::optional<absl::Time> Schedule::NextRateAfter(absl::Time after) const {
  // With a StartTime, the first firing is the start itself; without, one period after the
  // action was put.
  const absl::Time base = bounds_.start_time.value_or(bounds_.anchor);
  const int64_t first = bounds_.start_time ? 0 : 1;
  int64_t k = first;
  if (after >= base + first * period_) {
    absl::Duration remainder;
    k = absl::IDivDuration(after - base, period_, &remainder) + 1;
  }
  return base + k * period_;
}

std::optional<absl::Time> Schedule::NextAfter(absl::Time after) const {
  std::optional<absl::Time> next;
  switch (kind_) {
    case Kind::kAt:
      next = tz_.At(at_).pre;
      if (*next <= after) return std::nullopt;
      break;
    case Kind::kRate:
      next = NextRateAfter(after);
      break;
    case Kind::kCron:
      if (bounds_.start_time && *bounds_.start_time > after) {
        next = bounds_.start_time;
      } else {
        next = NextCronAfter(after);
      }
      break;
  }
  if (!next || !InBounds(*next)) return std::nullopt;
  return next;
}

}  // namespace skiff::scaling
