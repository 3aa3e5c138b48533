//! Go's `time.Time` as it travels through image JSON: parsed as Go's `time.Parse` with the
//! RFC 3339 layout accepts it, written back as `time.RFC3339Nano` in the offset it was
//! written with, and printed as `Time.String()` for templates.

use std::fmt;

mod layout;

pub use layout::{MONTH_NAMES, WEEKDAY_NAMES};

use serde::de::Deserializer;
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

/// 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z in seconds since the Unix epoch.
const LOWEST_SECONDS: i64 = -62_167_219_200;
const HIGHEST_SECONDS: i64 = 253_402_300_799;

/// A point in time as Go's `time.Time` holds one after parsing RFC 3339: the instant plus
/// the UTC offset it was written with (Go prints times back in that offset). The default is
/// Go's zero time, [`GoTime::ZERO`]. Years 0000 to 9999 are representable, as in Go's
/// four-digit RFC 3339 layout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GoTime {
    /// Seconds since 1970-01-01T00:00:00 in the *local* (offset) wall clock.
    local_seconds: i64,
    nanos: u32,
    /// Seconds east of UTC; 0 is printed as `Z`.
    offset_seconds: i32,
}

/// Why a string is not an RFC 3339 time.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("parsing time {input:?} as \"2006-01-02T15:04:05Z07:00\": {reason}")]
pub struct TimeParseError {
    input: String,
    reason: &'static str,
}

impl GoTime {
    /// Go's zero `time.Time`, `0001-01-01T00:00:00Z` (what a docker config without
    /// `created` yields).
    pub const ZERO: GoTime = GoTime {
        local_seconds: -62_135_596_800,
        nanos: 0,
        offset_seconds: 0,
    };

    /// The UTC time `seconds` after 1970-01-01T00:00:00Z, kept within the representable
    /// years 0000 to 9999.
    pub fn from_unix_seconds(seconds: i64) -> GoTime {
        GoTime {
            local_seconds: seconds.clamp(LOWEST_SECONDS, HIGHEST_SECONDS),
            nanos: 0,
            offset_seconds: 0,
        }
    }

    /// Parse as Go's `time.Parse(time.RFC3339, …)` does: one- or two-digit hour, optional
    /// fractional seconds after `.` or `,` (digits beyond nine are dropped), `Z` or `±hh:mm`.
    pub fn parse_rfc3339(input: &str) -> Result<GoTime, TimeParseError> {
        let fail = |reason| TimeParseError {
            input: input.to_string(),
            reason,
        };
        let mut rest = input.as_bytes();
        let year = take_digits(&mut rest, 4, 4).ok_or_else(|| fail("bad year"))?;
        expect_byte(&mut rest, b'-').ok_or_else(|| fail("bad date separator"))?;
        let month = take_digits(&mut rest, 2, 2).ok_or_else(|| fail("bad month"))?;
        expect_byte(&mut rest, b'-').ok_or_else(|| fail("bad date separator"))?;
        let day = take_digits(&mut rest, 2, 2).ok_or_else(|| fail("bad day"))?;
        expect_byte(&mut rest, b'T').ok_or_else(|| fail("missing T"))?;
        let hour = take_digits(&mut rest, 1, 2).ok_or_else(|| fail("bad hour"))?;
        expect_byte(&mut rest, b':').ok_or_else(|| fail("bad time separator"))?;
        let minute = take_digits(&mut rest, 2, 2).ok_or_else(|| fail("bad minute"))?;
        expect_byte(&mut rest, b':').ok_or_else(|| fail("bad time separator"))?;
        let second = take_digits(&mut rest, 2, 2).ok_or_else(|| fail("bad second"))?;
        let mut nanos = 0u32;
        if rest.len() >= 2 && matches!(rest[0], b'.' | b',') && rest[1].is_ascii_digit() {
            rest = &rest[1..];
            let count = rest.iter().take_while(|b| b.is_ascii_digit()).count();
            let (digits, after) = rest.split_at(count);
            for position in 0..9 {
                nanos = nanos * 10 + digits.get(position).map_or(0, |d| u32::from(d - b'0'));
            }
            rest = after;
        }
        let offset_seconds = match rest.first() {
            Some(b'Z') => {
                rest = &rest[1..];
                0
            }
            Some(&sign @ (b'+' | b'-')) => {
                rest = &rest[1..];
                let hours = take_digits(&mut rest, 2, 2).ok_or_else(|| fail("bad zone"))?;
                expect_byte(&mut rest, b':').ok_or_else(|| fail("bad zone"))?;
                let minutes = take_digits(&mut rest, 2, 2).ok_or_else(|| fail("bad zone"))?;
                if hours >= 24 || minutes >= 60 {
                    return Err(fail("time zone offset out of range"));
                }
                let magnitude = (hours * 3600 + minutes * 60) as i32;
                if sign == b'-' {
                    -magnitude
                } else {
                    magnitude
                }
            }
            _ => return Err(fail("missing time zone")),
        };
        if !rest.is_empty() {
            return Err(fail("extra text after the time"));
        }
        if !(1..=12).contains(&month) {
            return Err(fail("month out of range"));
        }
        if day < 1 || day > days_in_month(year as i64, month) {
            return Err(fail("day out of range"));
        }
        if hour >= 24 || minute >= 60 || second >= 60 {
            return Err(fail("time out of range"));
        }
        let days = days_from_civil(year as i64, month, day);
        Ok(GoTime {
            local_seconds: days * 86_400 + i64::from(hour * 3600 + minute * 60 + second),
            nanos,
            offset_seconds,
        })
    }

    /// The wall-clock fields in the time's own offset.
    fn civil(&self) -> (i64, u32, u32, u32, u32, u32) {
        let days = self.local_seconds.div_euclid(86_400);
        let seconds_of_day = self.local_seconds.rem_euclid(86_400) as u32;
        let (year, month, day) = civil_from_days(days);
        (
            year,
            month,
            day,
            seconds_of_day / 3600,
            seconds_of_day / 60 % 60,
            seconds_of_day % 60,
        )
    }

    /// `.123` with trailing zeros trimmed, or nothing for whole seconds (Go's `.999999999`).
    fn trimmed_fraction(&self) -> String {
        if self.nanos == 0 {
            return String::new();
        }
        let digits = format!("{:09}", self.nanos);
        format!(".{}", digits.trim_end_matches('0'))
    }

    /// The year, as Go's `Time.Year` (in the time's own offset, as all the fields below).
    pub fn year(&self) -> i64 {
        self.civil().0
    }

    /// The month, 1 for January (Go's `Time.Month` as a number).
    pub fn month(&self) -> u32 {
        self.civil().1
    }

    /// The day of the month, from 1.
    pub fn day(&self) -> u32 {
        self.civil().2
    }

    /// The hour, 0 to 23.
    pub fn hour(&self) -> u32 {
        self.civil().3
    }

    /// The minute, 0 to 59.
    pub fn minute(&self) -> u32 {
        self.civil().4
    }

    /// The second, 0 to 59.
    pub fn second(&self) -> u32 {
        self.civil().5
    }

    /// The nanoseconds within the second.
    pub fn nanosecond(&self) -> u32 {
        self.nanos
    }

    /// The day of the week, 0 for Sunday (Go's `time.Weekday`).
    pub fn weekday(&self) -> u32 {
        // 1970-01-01 was a Thursday.
        (self.local_seconds.div_euclid(86_400) + 4).rem_euclid(7) as u32
    }

    /// The day of the year, from 1.
    pub fn year_day(&self) -> u32 {
        let (year, ..) = self.civil();
        (self.local_seconds.div_euclid(86_400) - days_from_civil(year, 1, 1) + 1) as u32
    }

    /// Seconds east of UTC of the time's zone.
    pub fn offset_seconds(&self) -> i32 {
        self.offset_seconds
    }

    /// The name of the time's zone as Go's parser gives it: `UTC` for offset 0, none (an
    /// unnamed fixed zone) for any other.
    pub fn zone_name(&self) -> &'static str {
        if self.offset_seconds == 0 {
            "UTC"
        } else {
            ""
        }
    }

    /// Seconds since 1970-01-01T00:00:00Z (Go's `Time.Unix`).
    pub fn unix_seconds(&self) -> i64 {
        self.local_seconds - i64::from(self.offset_seconds)
    }

    /// Nanoseconds since 1970-01-01T00:00:00Z.
    pub fn unix_nanos(&self) -> i128 {
        i128::from(self.unix_seconds()) * 1_000_000_000 + i128::from(self.nanos)
    }

    /// Whether this is the zero time, 0001-01-01T00:00:00Z, whatever its zone (Go's
    /// `Time.IsZero`).
    pub fn is_zero(&self) -> bool {
        self.unix_seconds() == GoTime::ZERO.local_seconds && self.nanos == 0
    }

    /// The same instant in UTC (Go's `Time.UTC`).
    pub fn utc(&self) -> GoTime {
        GoTime {
            local_seconds: self.unix_seconds(),
            nanos: self.nanos,
            offset_seconds: 0,
        }
    }

    /// The time `nanos` nanoseconds later (Go's `Time.Add`), in the same zone; `None`
    /// outside the years 0000 to 9999.
    pub fn add_nanos(&self, nanos: i64) -> Option<GoTime> {
        let total = i128::from(self.local_seconds) * 1_000_000_000
            + i128::from(self.nanos)
            + i128::from(nanos);
        self.with_local_nanos(total)
    }

    /// The time `years`, `months` and `days` later on the wall clock, normalized as Go's
    /// `Time.AddDate` does (October 31 plus one month is December 1); `None` outside the
    /// years 0000 to 9999.
    pub fn add_date(&self, years: i64, months: i64, days: i64) -> Option<GoTime> {
        let (year, month, day, ..) = self.civil();
        let month_index = i64::from(month) - 1 + months;
        let year = year
            .checked_add(years)?
            .checked_add(month_index.div_euclid(12))?;
        if !(0..=9999).contains(&year) {
            return None;
        }
        let first_of_month = days_from_civil(year, month_index.rem_euclid(12) as u32 + 1, 1);
        let date = first_of_month
            .checked_add(i64::from(day) - 1)?
            .checked_add(days)?;
        let total = (i128::from(date) * 86_400 + i128::from(self.local_seconds.rem_euclid(86_400)))
            * 1_000_000_000
            + i128::from(self.nanos);
        self.with_local_nanos(total)
    }

    /// The time rounded down to a multiple of `nanos` since the zero time (Go's
    /// `Time.Truncate`); unchanged when `nanos` is not positive.
    pub fn truncate(&self, nanos: i64) -> Option<GoTime> {
        match self.remainder_since_zero(nanos) {
            Some(remainder) => self.add_nanos(-remainder),
            None => Some(*self),
        }
    }

    /// The time rounded to the nearest multiple of `nanos` since the zero time, halves
    /// up (Go's `Time.Round`); unchanged when `nanos` is not positive.
    pub fn round(&self, nanos: i64) -> Option<GoTime> {
        match self.remainder_since_zero(nanos) {
            Some(remainder) if remainder + remainder < nanos => self.add_nanos(-remainder),
            Some(remainder) => self.add_nanos(nanos - remainder),
            None => Some(*self),
        }
    }

    /// How far past a multiple of `nanos` since 0001-01-01T00:00:00Z the instant is.
    fn remainder_since_zero(&self, nanos: i64) -> Option<i64> {
        if nanos <= 0 {
            return None;
        }
        let since_zero = self.unix_nanos() - i128::from(GoTime::ZERO.local_seconds) * 1_000_000_000;
        Some(since_zero.rem_euclid(i128::from(nanos)) as i64)
    }

    /// This time's zone at `local_nanos` nanoseconds of wall clock since 1970, if within
    /// the representable years.
    fn with_local_nanos(&self, local_nanos: i128) -> Option<GoTime> {
        let local_seconds = i64::try_from(local_nanos.div_euclid(1_000_000_000)).ok()?;
        let utc_seconds = local_seconds - i64::from(self.offset_seconds);
        if !(LOWEST_SECONDS..=HIGHEST_SECONDS).contains(&utc_seconds) {
            return None;
        }
        Some(GoTime {
            local_seconds,
            nanos: local_nanos.rem_euclid(1_000_000_000) as u32,
            offset_seconds: self.offset_seconds,
        })
    }

    /// Go's `Time.Format`: `layout` shows how Go's reference time,
    /// `Mon Jan 2 15:04:05 MST 2006`, would be written.
    pub fn format(&self, layout: &str) -> String {
        layout::format(self, layout)
    }

    /// Go's `Time.GoString`: `time.Date(2024, time.January, 1, 0, 0, 0, 0, time.UTC)`.
    pub fn to_go_syntax(&self) -> String {
        let (year, month, day, hour, minute, second) = self.civil();
        let zone = if self.offset_seconds == 0 {
            "time.UTC".to_string()
        } else {
            "time.Location(\"\")".to_string()
        };
        format!(
            "time.Date({year}, time.{}, {day}, {hour}, {minute}, {second}, {}, {zone})",
            layout::MONTH_NAMES[month as usize - 1],
            self.nanos
        )
    }

    /// A time as Go holds one it made from the clock or a file time (`time.Now`,
    /// `time.Unix`, `FileInfo.ModTime`) in `time`'s zone: the machine's local zone for those,
    /// UTC after `.UTC()`. It is marshalled in that zone. Years outside 0000 to 9999 are an
    /// error, as in Go's `MarshalJSON`.
    pub fn from_datetime<Tz: chrono::TimeZone>(
        time: &chrono::DateTime<Tz>,
    ) -> Result<GoTime, TimeParseError>
    where
        Tz::Offset: fmt::Display,
    {
        GoTime::parse_rfc3339(&time.format("%Y-%m-%dT%H:%M:%S%.9f%:z").to_string())
    }

    /// Go's `time.RFC3339Nano` layout, as `MarshalJSON` writes it.
    pub fn to_rfc3339_nano(&self) -> String {
        let (year, month, day, hour, minute, second) = self.civil();
        let zone = if self.offset_seconds == 0 {
            "Z".to_string()
        } else {
            let (hours, minutes) = offset_parts(self.offset_seconds);
            format!(
                "{}{hours:02}:{minutes:02}",
                offset_sign(self.offset_seconds)
            )
        };
        format!(
            "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}{}{zone}",
            self.trimmed_fraction()
        )
    }

    /// Go's `time.Time.String()`, as text/template prints a time: offset 0 is `+0000 UTC`
    /// (the parser attaches the local zone, UTC on the machines skopeo runs in containers),
    /// any other offset an unnamed fixed zone, printed `+0200 +0200`.
    pub fn to_go_string(&self) -> String {
        let (year, month, day, hour, minute, second) = self.civil();
        let (hours, minutes) = offset_parts(self.offset_seconds);
        let numeric_zone = format!("{}{hours:02}{minutes:02}", offset_sign(self.offset_seconds));
        let zone_name = if self.offset_seconds == 0 {
            "UTC".to_string()
        } else {
            numeric_zone.clone()
        };
        format!(
            "{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}:{second:02}{} {numeric_zone} {zone_name}",
            self.trimmed_fraction()
        )
    }
}

impl Default for GoTime {
    fn default() -> Self {
        GoTime::ZERO
    }
}

impl fmt::Display for GoTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_rfc3339_nano())
    }
}

impl Serialize for GoTime {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&self.to_rfc3339_nano())
    }
}

impl<'de> Deserialize<'de> for GoTime {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        // Go's `UnmarshalJSON` ignores `null`, leaving the zero time (a `*time.Time`, here
        // `Option<GoTime>`, becomes nil instead: serde handles that before reaching here).
        match Option::<String>::deserialize(deserializer)? {
            None => Ok(GoTime::ZERO),
            Some(text) => GoTime::parse_rfc3339(&text).map_err(serde::de::Error::custom),
        }
    }
}

fn offset_sign(offset_seconds: i32) -> char {
    if offset_seconds < 0 {
        '-'
    } else {
        '+'
    }
}

fn offset_parts(offset_seconds: i32) -> (u32, u32) {
    let magnitude = offset_seconds.unsigned_abs();
    (magnitude / 3600, magnitude / 60 % 60)
}

/// Take between `min` and `max` ASCII digits from the front of `rest`.
fn take_digits(rest: &mut &[u8], min: usize, max: usize) -> Option<u32> {
    let count = rest
        .iter()
        .take(max)
        .take_while(|b| b.is_ascii_digit())
        .count();
    if count < min {
        return None;
    }
    let value = rest[..count]
        .iter()
        .fold(0u32, |acc, d| acc * 10 + u32::from(d - b'0'));
    *rest = &rest[count..];
    Some(value)
}

fn expect_byte(rest: &mut &[u8], wanted: u8) -> Option<()> {
    let (&first, tail) = rest.split_first()?;
    if first != wanted {
        return None;
    }
    *rest = tail;
    Some(())
}

fn is_leap_year(year: i64) -> bool {
    year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's algorithm).
fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month = i64::from(month);
    let day_of_year =
        (153 * (if month > 2 { month - 3 } else { month + 9 }) + 2) / 5 + i64::from(day) - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`].
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = (day_of_year - (153 * month_index + 2) / 5 + 1) as u32;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    } as u32;
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_times_like_go() {
        let cases = [
            (
                "2024-01-01T00:00:00Z",
                "2024-01-01T00:00:00Z",
                "2024-01-01 00:00:00 +0000 UTC",
            ),
            (
                "2023-06-30T23:59:58.120000000+02:00",
                "2023-06-30T23:59:58.12+02:00",
                "2023-06-30 23:59:58.12 +0200 +0200",
            ),
            (
                "2020-02-29T1:02:03,5-05:30",
                "2020-02-29T01:02:03.5-05:30",
                "2020-02-29 01:02:03.5 -0530 -0530",
            ),
            (
                "2024-01-01T00:00:00+00:00",
                "2024-01-01T00:00:00Z",
                "2024-01-01 00:00:00 +0000 UTC",
            ),
            (
                "1999-12-31T23:59:59.1234567891Z",
                "1999-12-31T23:59:59.123456789Z",
                "1999-12-31 23:59:59.123456789 +0000 UTC",
            ),
        ];
        for (input, json, go_string) in cases {
            let time = GoTime::parse_rfc3339(input).unwrap();
            assert_eq!(time.to_rfc3339_nano(), json, "{input}");
            assert_eq!(time.to_go_string(), go_string, "{input}");
        }
        assert_eq!(GoTime::ZERO.to_rfc3339_nano(), "0001-01-01T00:00:00Z");
    }

    #[test]
    fn time_round_trips_like_go() {
        for (input, output) in [
            ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
            ("2024-01-01T00:00:00.500Z", "2024-01-01T00:00:00.5Z"),
            (
                "2024-01-02T03:04:05.123456789+01:00",
                "2024-01-02T03:04:05.123456789+01:00",
            ),
            ("2024-01-01T00:00:00+00:00", "2024-01-01T00:00:00Z"),
            ("2024-01-01T00:00:00.000Z", "2024-01-01T00:00:00Z"),
        ] {
            assert_eq!(
                GoTime::parse_rfc3339(input).unwrap().to_rfc3339_nano(),
                output
            );
        }
        assert_eq!(GoTime::default().to_rfc3339_nano(), "0001-01-01T00:00:00Z");
        assert!(GoTime::parse_rfc3339("yesterday").is_err());
    }

    #[test]
    fn json_null_is_the_zero_time_and_round_trips() {
        let time: GoTime = serde_json::from_str("null").unwrap();
        assert_eq!(time, GoTime::ZERO);
        let absent: Option<GoTime> = serde_json::from_str("null").unwrap();
        assert_eq!(absent, None);
        let time: GoTime = serde_json::from_str("\"2024-01-02T03:04:05.5-07:00\"").unwrap();
        assert_eq!(
            serde_json::to_string(&time).unwrap(),
            "\"2024-01-02T03:04:05.5-07:00\""
        );
        assert!(serde_json::from_str::<GoTime>("\"yesterday\"").is_err());
    }

    #[test]
    fn calendar_fields_and_arithmetic_follow_go() {
        let time = GoTime::parse_rfc3339("2023-10-31T22:15:30.75-02:00").unwrap();
        assert_eq!(
            (
                time.year(),
                time.month(),
                time.day(),
                time.weekday(),
                time.year_day()
            ),
            (2023, 10, 31, 2, 304)
        );
        assert_eq!(time.unix_seconds(), 1_698_797_730);
        assert_eq!(time.utc().to_rfc3339_nano(), "2023-11-01T00:15:30.75Z");
        // October 31 plus one month is "November 31", which Go normalizes to December 1.
        let later = time.add_date(0, 1, 0).unwrap();
        assert_eq!(later.to_rfc3339_nano(), "2023-12-01T22:15:30.75-02:00");
        assert_eq!(
            time.add_date(1, -22, 0).unwrap().to_rfc3339_nano(),
            "2022-12-31T22:15:30.75-02:00"
        );
        assert_eq!(
            time.add_nanos(-750_000_001).unwrap().to_rfc3339_nano(),
            "2023-10-31T22:15:29.999999999-02:00"
        );
        // Rounding counts from the zero time in UTC, so a day is cut at UTC midnight.
        let day = 86_400_000_000_000;
        assert_eq!(
            time.truncate(day).unwrap().to_rfc3339_nano(),
            "2023-10-31T22:00:00-02:00"
        );
        assert_eq!(
            time.round(60_000_000_000).unwrap().to_rfc3339_nano(),
            "2023-10-31T22:16:00-02:00"
        );
        assert_eq!(time.round(0), Some(time));
        assert!(time.add_date(8000, 0, 0).is_none());
        assert!(GoTime::ZERO.is_zero() && !time.is_zero());
        assert_eq!(
            time.to_go_syntax(),
            "time.Date(2023, time.October, 31, 22, 15, 30, 750000000, time.Location(\"\"))"
        );
    }

    #[test]
    fn rejects_what_go_rejects() {
        for bad in [
            "",
            "2024-01-01",
            "2024-01-01T00:00:00",
            "2024-13-01T00:00:00Z",
            "2023-02-29T00:00:00Z",
            "2024-01-01T24:00:00Z",
            "2024-01-01T00:00:00Zjunk",
            "2024-01-01 00:00:00Z",
        ] {
            assert!(GoTime::parse_rfc3339(bad).is_err(), "{bad:?} accepted");
        }
    }
}
