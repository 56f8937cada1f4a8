// PutScheduledAction's schedules: parsing with errors that name the field, and firing times in
// UTC and in a time zone across its DST changes. Times are values: no clock.
#include "skiff/scaling/schedule.h"

#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace skiff::scaling {
namespace {

using ::testing::HasSubstr;

absl::Time Utc(int y, int mo, int d, int h = 0, int mi = 0, int s = 0) {
  return absl::FromCivil(absl::CivilSecond(y, mo, d, h, mi, s), absl::UTCTimeZone());
}

std::string Show(std::optional<absl::Time> t) {
  if (!t) return "none";
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", *t, absl::UTCTimeZone());
}

// The next firing after `after` of `expression` in `timezone`, as text (UTC).
std::string Next(const std::string& expression, absl::Time after, const std::string& timezone = "",
                 const ScheduleBounds& bounds = {}) {
  absl::StatusOr<Schedule> schedule = Schedule::Parse(expression, timezone, bounds);
  if (!schedule.ok()) return std::string(schedule.status().message());
  return Show(schedule->NextAfter(after));
}

std::string ParseError(const std::string& expression, const std::string& timezone = "") {
  absl::StatusOr<Schedule> schedule = Schedule::Parse(expression, timezone);
  if (schedule.ok()) return "parsed";
  EXPECT_EQ(schedule.status().code(), absl::StatusCode::kInvalidArgument) << expression;
  return std::string(schedule.status().message());
}

TEST(ScheduleParseTest, CronErrorsNameTheFieldPosition) {
  EXPECT_EQ(ParseError("cron(0 25 * * ? *)"),
            "Invalid schedule expression 'cron(0 25 * * ? *)': field 2 (Hours): '25' is out of "
            "range 0-23");
  EXPECT_THAT(ParseError("cron(60 * * * ? *)"), HasSubstr("field 1 (Minutes): '60'"));
  EXPECT_THAT(ParseError("cron(0 0 32 * ? *)"), HasSubstr("field 3 (Day-of-month): '32'"));
  EXPECT_THAT(ParseError("cron(0 0 1 13 ? *)"), HasSubstr("field 4 (Month): '13'"));
  EXPECT_THAT(ParseError("cron(0 0 ? * 0 *)"), HasSubstr("field 5 (Day-of-week): '0'"));
  EXPECT_THAT(ParseError("cron(0 0 1 * ? 2200)"), HasSubstr("field 6 (Year): '2200'"));
  EXPECT_THAT(ParseError("cron(0 0 1 FOO ? *)"),
              HasSubstr("field 4 (Month): 'FOO' is not a value (1-12 or a name)"));
  EXPECT_THAT(ParseError("cron(0 0 ? * 5-2 *)"), HasSubstr("field 5 (Day-of-week): the range"));
  EXPECT_THAT(ParseError("cron(0/0 * * * ? *)"), HasSubstr("field 1 (Minutes): '0'"));
  EXPECT_THAT(ParseError("cron(? * * * ? *)"), HasSubstr("field 1 (Minutes): '?'"));
  EXPECT_THAT(ParseError("cron(0 0 1,,2 * ? *)"), HasSubstr("field 3 (Day-of-month)"));
  EXPECT_THAT(ParseError("cron(0 0 L,5 * ? *)"), HasSubstr("field 3 (Day-of-month)"));
  EXPECT_THAT(ParseError("cron(0 0 ? * 1L,2 *)"), HasSubstr("field 5 (Day-of-week)"));
  EXPECT_THAT(ParseError("cron(0 0 ? * MON#6 *)"), HasSubstr("field 5 (Day-of-week)"));
  EXPECT_THAT(ParseError("cron(0 0 1# * ? *)"), HasSubstr("field 3 (Day-of-month)"));
  EXPECT_THAT(ParseError("cron(5L * * * ? *)"), HasSubstr("field 1 (Minutes): '5L'"));
}

TEST(ScheduleParseTest, CronShapeErrors) {
  EXPECT_THAT(ParseError("cron(0 0 * * ?)"), HasSubstr("6 fields"));
  EXPECT_THAT(ParseError("cron(0 0 * * * *)"), HasSubstr("exactly one of field 3"));
  EXPECT_THAT(ParseError("cron(0 0 ? * ? *)"), HasSubstr("exactly one of field 3"));
  EXPECT_THAT(ParseError("cron(0 0 * * ? *"), HasSubstr("must end with ')'"));
  EXPECT_THAT(ParseError("every 5 minutes"), HasSubstr("at(yyyy-mm-ddThh:mm:ss), rate("));
  EXPECT_EQ(ParseError("cron(0 9,17 ? * mon-fri *)"), "parsed");
  EXPECT_EQ(ParseError("cron(*/15 0-6/2 1 jan,JUL ? 2024-2030)"), "parsed");
}

TEST(ScheduleParseTest, RateNeedsAPositiveValueAndTheRightUnitNumber) {
  EXPECT_EQ(ParseError("rate(1 minute)"), "parsed");
  EXPECT_EQ(ParseError("rate(5 hours)"), "parsed");
  EXPECT_THAT(ParseError("rate(1 minutes)"), HasSubstr("singular unit 'minute'"));
  EXPECT_THAT(ParseError("rate(5 day)"), HasSubstr("plural unit 'days'"));
  EXPECT_THAT(ParseError("rate(0 minutes)"), HasSubstr("positive whole number"));
  EXPECT_THAT(ParseError("rate(-5 minutes)"), HasSubstr("positive whole number"));
  EXPECT_THAT(ParseError("rate(5  minutes)"), HasSubstr("positive whole number"));
  EXPECT_THAT(ParseError("rate(5 weeks)"), HasSubstr("'weeks' is not one of"));
}

TEST(ScheduleParseTest, AtNeedsARealDateInTheExactShape) {
  EXPECT_EQ(ParseError("at(2024-02-29T12:00:00)"), "parsed");
  EXPECT_THAT(ParseError("at(2023-02-29T12:00:00)"), HasSubstr("is not a date and time"));
  EXPECT_THAT(ParseError("at(2024-01-01T24:00:00)"), HasSubstr("is not a date and time"));
  EXPECT_THAT(ParseError("at(2024-1-01T00:00:00)"), HasSubstr("yyyy-mm-ddThh:mm:ss"));
  EXPECT_THAT(ParseError("at(2024-01-01 00:00:00)"), HasSubstr("yyyy-mm-ddThh:mm:ss"));
}

TEST(ScheduleParseTest, TimeZoneAndBounds) {
  EXPECT_EQ(ParseError("rate(1 hour)", "Europe/Paris"), "parsed");
  EXPECT_EQ(ParseError("rate(1 hour)", "Mars/Olympus"),
            "Timezone 'Mars/Olympus' is not an IANA time zone name");
  ScheduleBounds backwards{.start_time = Utc(2024, 1, 2), .end_time = Utc(2024, 1, 1)};
  absl::StatusOr<Schedule> schedule = Schedule::Parse("rate(1 hour)", "", backwards);
  EXPECT_EQ(schedule.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(schedule.status().message(), "EndTime must be after StartTime");
}

TEST(ScheduleAtTest, FiresOnceAtTheLocalTime) {
  EXPECT_EQ(Next("at(2024-07-01T09:00:00)", Utc(2024, 1, 1)), "2024-07-01T09:00:00Z");
  EXPECT_EQ(Next("at(2024-07-01T09:00:00)", Utc(2024, 1, 1), "America/New_York"),
            "2024-07-01T13:00:00Z");  // EDT, UTC-4.
  EXPECT_EQ(Next("at(2024-01-15T09:00:00)", Utc(2024, 1, 1), "America/New_York"),
            "2024-01-15T14:00:00Z");  // EST, UTC-5.
  EXPECT_EQ(Next("at(2024-07-01T09:00:00)", Utc(2024, 7, 1, 9)), "none");  // Strictly after.
  // A time the spring-forward skips: as if the change had not happened yet (03:30 EDT).
  EXPECT_EQ(Next("at(2024-03-10T02:30:00)", Utc(2024, 1, 1), "America/New_York"),
            "2024-03-10T07:30:00Z");
  ScheduleBounds ended{.end_time = Utc(2024, 6, 1)};
  EXPECT_EQ(Next("at(2024-07-01T09:00:00)", Utc(2024, 1, 1), "", ended), "none");
}

TEST(ScheduleRateTest, CountsFromTheAnchorWithoutAStartTime) {
  const ScheduleBounds put_at{.anchor = Utc(2024, 5, 1, 10, 2, 30)};
  EXPECT_EQ(Next("rate(5 minutes)", Utc(2024, 5, 1), "", put_at), "2024-05-01T10:07:30Z");
  EXPECT_EQ(Next("rate(5 minutes)", Utc(2024, 5, 1, 10, 7, 30), "", put_at),
            "2024-05-01T10:12:30Z");
  EXPECT_EQ(Next("rate(5 minutes)", Utc(2024, 5, 1, 11, 0, 0), "", put_at),
            "2024-05-01T11:02:30Z");
}

TEST(ScheduleRateTest, AStartTimeIsTheFirstFiringAndEndTimeTheLast) {
  const ScheduleBounds bounds{.start_time = Utc(2024, 5, 1, 12),
                              .end_time = Utc(2024, 5, 1, 14),
                              .anchor = Utc(2024, 4, 1, 0, 0, 17)};
  EXPECT_EQ(Next("rate(1 hour)", Utc(2024, 5, 1), "", bounds), "2024-05-01T12:00:00Z");
  EXPECT_EQ(Next("rate(1 hour)", Utc(2024, 5, 1, 12), "", bounds), "2024-05-01T13:00:00Z");
  EXPECT_EQ(Next("rate(1 hour)", Utc(2024, 5, 1, 13), "", bounds), "2024-05-01T14:00:00Z");
  EXPECT_EQ(Next("rate(1 hour)", Utc(2024, 5, 1, 14), "", bounds), "none");
}

TEST(ScheduleRateTest, ADayIsTwentyFourHoursEvenAcrossDst) {
  const ScheduleBounds bounds{.start_time = Utc(2024, 3, 9, 14)};  // 09:00 EST.
  EXPECT_EQ(Next("rate(1 day)", Utc(2024, 3, 9, 14), "America/New_York", bounds),
            "2024-03-10T14:00:00Z");  // 10:00 EDT: rate() is absolute time.
}

TEST(ScheduleCronTest, WeekdaysListsStepsAndNames) {
  // 2024-01-01 is a Monday.
  EXPECT_EQ(Next("cron(30 6 ? * MON *)", Utc(2024, 1, 1, 7)), "2024-01-08T06:30:00Z");
  EXPECT_EQ(Next("cron(30 6 ? * 2 *)", Utc(2024, 1, 1, 6)), "2024-01-01T06:30:00Z");
  EXPECT_EQ(Next("cron(0/15 * * * ? *)", Utc(2024, 1, 1, 10, 7)), "2024-01-01T10:15:00Z");
  EXPECT_EQ(Next("cron(0/15 * * * ? *)", Utc(2024, 1, 1, 10, 45)), "2024-01-01T11:00:00Z");
  EXPECT_EQ(Next("cron(0 9,17 ? * MON-FRI *)", Utc(2024, 1, 5, 17)),  // Friday 17:00.
            "2024-01-08T09:00:00Z");
  EXPECT_EQ(Next("cron(0 0 1 jul ? *)", Utc(2024, 1, 1)), "2024-07-01T00:00:00Z");
  EXPECT_EQ(Next("cron(10-20/5 3 * * ? *)", Utc(2024, 1, 1, 3, 15)), "2024-01-01T03:20:00Z");
}

TEST(ScheduleCronTest, EndOfMonthAndLeapYears) {
  EXPECT_EQ(Next("cron(0 0 L * ? *)", Utc(2024, 2, 10)), "2024-02-29T00:00:00Z");
  EXPECT_EQ(Next("cron(0 0 L * ? *)", Utc(2023, 2, 10)), "2023-02-28T00:00:00Z");
  EXPECT_EQ(Next("cron(0 0 L 2 ? *)", Utc(2099, 3, 1)), "2100-02-28T00:00:00Z");  // Not leap.
  EXPECT_EQ(Next("cron(0 12 29 2 ? *)", Utc(2023, 3, 1)), "2024-02-29T12:00:00Z");
  EXPECT_EQ(Next("cron(0 12 29 2 ? *)", Utc(2024, 3, 1)), "2028-02-29T12:00:00Z");
  EXPECT_EQ(Next("cron(0 0 31 * ? *)", Utc(2024, 4, 1)), "2024-05-31T00:00:00Z");
}

TEST(ScheduleCronTest, NearestWeekdayStaysInTheMonth) {
  // 2024-06-15 is a Saturday: the Friday before.
  EXPECT_EQ(Next("cron(0 0 15W * ? *)", Utc(2024, 6, 1)), "2024-06-14T00:00:00Z");
  // 2024-06-01 is a Saturday: not May 31, but Monday the 3rd.
  EXPECT_EQ(Next("cron(0 0 1W * ? *)", Utc(2024, 5, 31, 1)), "2024-06-03T00:00:00Z");
  // 2024-09-01 is a Sunday: Monday the 2nd.
  EXPECT_EQ(Next("cron(0 0 1W * ? *)", Utc(2024, 8, 31)), "2024-09-02T00:00:00Z");
  // 2024-06-30 is a Sunday and the last day: not July 1, but Friday the 28th.
  EXPECT_EQ(Next("cron(0 0 30W * ? *)", Utc(2024, 6, 20)), "2024-06-28T00:00:00Z");
  // June has no 31st: the next month that has one.
  EXPECT_EQ(Next("cron(0 0 31W * ? *)", Utc(2024, 6, 1)), "2024-07-31T00:00:00Z");
  // The last weekday of August 2024 (the 31st is a Saturday).
  EXPECT_EQ(Next("cron(0 0 LW * ? *)", Utc(2024, 8, 1)), "2024-08-30T00:00:00Z");
}

TEST(ScheduleCronTest, NthAndLastDayOfWeek) {
  EXPECT_EQ(Next("cron(0 0 ? * 3#2 *)", Utc(2024, 1, 1)), "2024-01-09T00:00:00Z");  // 2nd Tue.
  // The fifth Friday: February 2024 has none, March 29th is one.
  EXPECT_EQ(Next("cron(0 0 ? * FRI#5 *)", Utc(2024, 2, 1)), "2024-03-29T00:00:00Z");
  EXPECT_EQ(Next("cron(0 0 ? * 6L *)", Utc(2024, 1, 1)), "2024-01-26T00:00:00Z");  // Last Fri.
  EXPECT_EQ(Next("cron(0 0 ? * L *)", Utc(2024, 1, 1)), "2024-01-06T00:00:00Z");  // Saturday.
}

TEST(ScheduleCronTest, YearsAndTheEnd) {
  EXPECT_EQ(Next("cron(0 0 1 1 ? 2030)", Utc(2024, 1, 1)), "2030-01-01T00:00:00Z");
  EXPECT_EQ(Next("cron(0 0 1 1 ? 2030)", Utc(2030, 1, 1)), "none");
  EXPECT_EQ(Next("cron(0 0 1 1 ? *)", Utc(2199, 1, 1)), "none");
}

TEST(ScheduleCronTest, StartTimeFiresThenTheRecurrenceUntilEndTime) {
  const ScheduleBounds bounds{.start_time = Utc(2024, 1, 1, 10, 20),
                              .end_time = Utc(2024, 1, 3, 9)};
  const std::string daily = "cron(0 9 * * ? *)";
  EXPECT_EQ(Next(daily, Utc(2023, 12, 1), "", bounds), "2024-01-01T10:20:00Z");
  EXPECT_EQ(Next(daily, Utc(2024, 1, 1, 10, 20), "", bounds), "2024-01-02T09:00:00Z");
  EXPECT_EQ(Next(daily, Utc(2024, 1, 2, 9), "", bounds), "2024-01-03T09:00:00Z");
  EXPECT_EQ(Next(daily, Utc(2024, 1, 3, 9), "", bounds), "none");
}

TEST(ScheduleDstTest, LocalTimeHoldsAcrossTheChange) {
  const std::string nine = "cron(0 9 * * ? *)";
  EXPECT_EQ(Next(nine, Utc(2024, 3, 9), "America/New_York"), "2024-03-09T14:00:00Z");  // EST.
  EXPECT_EQ(Next(nine, Utc(2024, 3, 9, 14), "America/New_York"), "2024-03-10T13:00:00Z");
  EXPECT_EQ(Next(nine, Utc(2024, 11, 2, 13), "America/New_York"), "2024-11-03T14:00:00Z");
}

TEST(ScheduleDstTest, SpringForwardSkippedTimeFiresOnceAtTheOldOffset) {
  // 2024-03-10: New York goes from 01:59:59 EST to 03:00:00 EDT; 02:30 does not exist.
  const std::string half_past_two = "cron(30 2 * * ? *)";
  EXPECT_EQ(Next(half_past_two, Utc(2024, 3, 9, 8), "America/New_York"),
            "2024-03-10T07:30:00Z");  // 02:30 EST = 03:30 EDT.
  EXPECT_EQ(Next(half_past_two, Utc(2024, 3, 10, 7, 30), "America/New_York"),
            "2024-03-11T06:30:00Z");  // 02:30 EDT.
  // Hourly: 02:30 and 03:30 that day are the same instant, which fires once.
  const std::string hourly = "cron(30 * * * ? *)";
  EXPECT_EQ(Next(hourly, Utc(2024, 3, 10, 6, 30), "America/New_York"), "2024-03-10T07:30:00Z");
  EXPECT_EQ(Next(hourly, Utc(2024, 3, 10, 7, 30), "America/New_York"), "2024-03-10T08:30:00Z");
}

TEST(ScheduleDstTest, FallBackRepeatedTimeFiresOnceAtTheFirst) {
  // 2024-11-03: New York goes from 01:59:59 EDT back to 01:00:00 EST; 01:30 happens twice.
  const std::string half_past_one = "cron(30 1 * * ? *)";
  EXPECT_EQ(Next(half_past_one, Utc(2024, 11, 3), "America/New_York"),
            "2024-11-03T05:30:00Z");  // 01:30 EDT.
  EXPECT_EQ(Next(half_past_one, Utc(2024, 11, 3, 5, 30), "America/New_York"),
            "2024-11-04T06:30:00Z");  // Not 06:30Z on the 3rd (01:30 EST).
  // From inside the repeated hour (01:10 EST), the first 01:30 has passed: the next day.
  EXPECT_EQ(Next(half_past_one, Utc(2024, 11, 3, 6, 10), "America/New_York"),
            "2024-11-04T06:30:00Z");
}

TEST(ScheduleDstTest, SouthernHemisphereAndHalfHourZones) {
  // Sydney leaves DST on 2024-04-07 (03:00 AEDT -> 02:00 AEST): 09:00 is UTC+11, then UTC+10.
  EXPECT_EQ(Next("cron(0 9 * * ? *)", Utc(2024, 4, 5, 21), "Australia/Sydney"),
            "2024-04-05T22:00:00Z");  // Saturday the 6th, 09:00 AEDT.
  EXPECT_EQ(Next("cron(0 9 * * ? *)", Utc(2024, 4, 5, 22), "Australia/Sydney"),
            "2024-04-06T23:00:00Z");  // Sunday the 7th, 09:00 AEST.
  EXPECT_EQ(Next("cron(0 9 * * ? *)", Utc(2024, 1, 1), "Asia/Kolkata"), "2024-01-01T03:30:00Z");
}

}  // namespace
}  // namespace skiff::scaling
