//! Go's `Time.Format`: a layout is text in which pieces of Go's reference time,
//! `Mon Jan 2 15:04:05 MST 2006` (`01/02 03:04:05PM '06 -0700`), stand for the same
//! piece of the time being formatted; everything else is copied. The pieces are found
//! left to right, longest first, with Go's exceptions (`Janet` is not a month, `_2006` is
//! an underscore and a year, a fraction is `.` or `,` followed only by `0`s or `9`s).

use super::GoTime;

/// Go's `time.Month` names, January first.
pub const MONTH_NAMES: [&str; 12] = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
];

/// Go's `time.Weekday` names, Sunday first.
pub const WEEKDAY_NAMES: [&str; 7] = [
    "Sunday",
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
];

/// A piece of the reference time that a layout can hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Piece {
    LongMonth,
    ShortMonth,
    NumericMonth,
    ZeroMonth,
    LongWeekday,
    ShortWeekday,
    Day,
    SpaceDay,
    ZeroDay,
    SpaceYearDay,
    ZeroYearDay,
    Hour,
    Hour12,
    ZeroHour12,
    Minute,
    ZeroMinute,
    Second,
    ZeroSecond,
    LongYear,
    ShortYear,
    UpperAmPm,
    LowerAmPm,
    ZoneName,
    /// A numeric zone: `Z` for UTC when `utc_as_z`, a colon between the parts when
    /// `colons`, and which parts (hours; minutes; seconds).
    Offset {
        utc_as_z: bool,
        colons: bool,
        minutes: bool,
        seconds: bool,
    },
    /// Fractional seconds after `separator`: exactly `digits` of them, or (when `trim`)
    /// at most that many, trailing zeros and an all-zero fraction left out.
    Fraction {
        separator: char,
        digits: usize,
        trim: bool,
    },
}

/// The numeric zones, longest first so that a prefix does not hide a longer form:
/// the text after the leading `-` or `Z`, and its colons, minutes and seconds.
const OFFSETS: [(&str, bool, bool, bool); 5] = [
    ("070000", false, true, true),
    ("07:00:00", true, true, true),
    ("0700", false, true, false),
    ("07:00", true, true, false),
    ("07", false, false, false),
];

/// `time` written as `layout` shows.
pub(super) fn format(time: &GoTime, layout: &str) -> String {
    let mut out = String::with_capacity(layout.len() + 10);
    let mut rest = layout;
    while !rest.is_empty() {
        match next_piece(rest) {
            Some((literal, piece, after)) => {
                out.push_str(literal);
                write_piece(time, piece, &mut out);
                rest = after;
            }
            None => {
                out.push_str(rest);
                break;
            }
        }
    }
    out
}

/// The text before the first piece of `layout`, the piece, and the text after it.
fn next_piece(layout: &str) -> Option<(&str, Piece, &str)> {
    let bytes = layout.as_bytes();
    for (start, &byte) in bytes.iter().enumerate() {
        let tail = &layout[start..];
        if let Some((piece, length)) = piece_at(tail, byte) {
            return Some((&layout[..start], piece, &tail[length..]));
        }
        // `_2006` is an underscore followed by a year, not a space-padded day.
        if let Some(after) = tail.strip_prefix("_2006") {
            return Some((&layout[..=start], Piece::LongYear, after));
        }
    }
    None
}

/// The piece `tail` (whose first byte is `first`) starts with, and its length.
fn piece_at(tail: &str, first: u8) -> Option<(Piece, usize)> {
    let starts = |prefix: &str| tail.starts_with(prefix);
    // `Jan`, `Mon`: not when a lower-case letter follows (`Janet`, `Month`).
    let word_ends_at = |length: usize| {
        !tail
            .as_bytes()
            .get(length)
            .is_some_and(u8::is_ascii_lowercase)
    };
    Some(match first {
        b'J' if starts("January") => (Piece::LongMonth, 7),
        b'J' if starts("Jan") && word_ends_at(3) => (Piece::ShortMonth, 3),
        b'M' if starts("Monday") => (Piece::LongWeekday, 6),
        b'M' if starts("Mon") && word_ends_at(3) => (Piece::ShortWeekday, 3),
        b'M' if starts("MST") => (Piece::ZoneName, 3),
        b'0' if starts("002") => (Piece::ZeroYearDay, 3),
        b'0' => {
            let piece = match tail.as_bytes().get(1)? {
                b'1' => Piece::ZeroMonth,
                b'2' => Piece::ZeroDay,
                b'3' => Piece::ZeroHour12,
                b'4' => Piece::ZeroMinute,
                b'5' => Piece::ZeroSecond,
                b'6' => Piece::ShortYear,
                _ => return None,
            };
            (piece, 2)
        }
        b'1' if starts("15") => (Piece::Hour, 2),
        b'1' => (Piece::NumericMonth, 1),
        b'2' if starts("2006") => (Piece::LongYear, 4),
        b'2' => (Piece::Day, 1),
        b'_' if starts("__2") => (Piece::SpaceYearDay, 3),
        b'_' if starts("_2") && !starts("_2006") => (Piece::SpaceDay, 2),
        b'3' => (Piece::Hour12, 1),
        b'4' => (Piece::Minute, 1),
        b'5' => (Piece::Second, 1),
        b'P' if starts("PM") => (Piece::UpperAmPm, 2),
        b'p' if starts("pm") => (Piece::LowerAmPm, 2),
        b'-' | b'Z' => {
            let after = &tail[1..];
            let (text, colons, minutes, seconds) = OFFSETS
                .into_iter()
                .find(|(text, ..)| after.starts_with(text))?;
            let piece = Piece::Offset {
                utc_as_z: first == b'Z',
                colons,
                minutes,
                seconds,
            };
            (piece, 1 + text.len())
        }
        b'.' | b',' => {
            let digit = *tail
                .as_bytes()
                .get(1)
                .filter(|d| matches!(d, b'0' | b'9'))?;
            let digits = tail.as_bytes()[1..]
                .iter()
                .take_while(|&&b| b == digit)
                .count();
            // Only a run that ends the number is a fraction (`.000` yes, `.0001` no).
            if tail
                .as_bytes()
                .get(1 + digits)
                .is_some_and(u8::is_ascii_digit)
            {
                return None;
            }
            let piece = Piece::Fraction {
                separator: char::from(first),
                digits,
                trim: digit == b'9',
            };
            (piece, 1 + digits)
        }
        _ => return None,
    })
}

fn write_piece(time: &GoTime, piece: Piece, out: &mut String) {
    let month = time.month() as usize;
    let hour12 = match time.hour() % 12 {
        0 => 12,
        hour => hour,
    };
    let text = match piece {
        Piece::LongMonth => MONTH_NAMES[month - 1].to_string(),
        Piece::ShortMonth => MONTH_NAMES[month - 1][..3].to_string(),
        Piece::NumericMonth => month.to_string(),
        Piece::ZeroMonth => format!("{month:02}"),
        Piece::LongWeekday => WEEKDAY_NAMES[time.weekday() as usize].to_string(),
        Piece::ShortWeekday => WEEKDAY_NAMES[time.weekday() as usize][..3].to_string(),
        Piece::Day => time.day().to_string(),
        Piece::SpaceDay => format!("{:>2}", time.day()),
        Piece::ZeroDay => format!("{:02}", time.day()),
        Piece::SpaceYearDay => format!("{:>3}", time.year_day()),
        Piece::ZeroYearDay => format!("{:03}", time.year_day()),
        Piece::Hour => format!("{:02}", time.hour()),
        Piece::Hour12 => hour12.to_string(),
        Piece::ZeroHour12 => format!("{hour12:02}"),
        Piece::Minute => time.minute().to_string(),
        Piece::ZeroMinute => format!("{:02}", time.minute()),
        Piece::Second => time.second().to_string(),
        Piece::ZeroSecond => format!("{:02}", time.second()),
        Piece::LongYear => format!("{:04}", time.year()),
        Piece::ShortYear => format!("{:02}", time.year().rem_euclid(100)),
        Piece::UpperAmPm => if time.hour() >= 12 { "PM" } else { "AM" }.to_string(),
        Piece::LowerAmPm => if time.hour() >= 12 { "pm" } else { "am" }.to_string(),
        // An unnamed zone is written as its offset, `-0700`.
        Piece::ZoneName if time.zone_name().is_empty() => offset(time, false, false, true, false),
        Piece::ZoneName => time.zone_name().to_string(),
        Piece::Offset {
            utc_as_z,
            colons,
            minutes,
            seconds,
        } => offset(time, utc_as_z, colons, minutes, seconds),
        Piece::Fraction {
            separator,
            digits,
            trim,
        } => fraction(time.nanosecond(), separator, digits, trim),
    };
    out.push_str(&text);
}

fn offset(time: &GoTime, utc_as_z: bool, colons: bool, minutes: bool, seconds: bool) -> String {
    let offset = time.offset_seconds();
    if offset == 0 && utc_as_z {
        return "Z".to_string();
    }
    let sign = if offset < 0 { '-' } else { '+' };
    let magnitude = offset.unsigned_abs();
    let separator = if colons { ":" } else { "" };
    let mut text = format!("{sign}{:02}", magnitude / 3600);
    if minutes {
        text.push_str(&format!("{separator}{:02}", magnitude / 60 % 60));
    }
    if seconds {
        text.push_str(&format!("{separator}{:02}", magnitude % 60));
    }
    text
}

fn fraction(nanos: u32, separator: char, digits: usize, trim: bool) -> String {
    let all = format!("{nanos:09}");
    let kept = &all[..digits.min(9)];
    let kept = if trim {
        kept.trim_end_matches('0')
    } else {
        kept
    };
    if kept.is_empty() {
        return String::new();
    }
    format!("{separator}{kept}")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Go's `time.RFC1123Z` layout.
    const RFC1123Z: &str = "Mon, 02 Jan 2006 15:04:05 -0700";

    fn time(text: &str) -> GoTime {
        GoTime::parse_rfc3339(text).unwrap()
    }

    #[test]
    fn formats_every_piece_of_the_reference_time_as_go_does() {
        // Outputs taken from Go 1.24 (skopeo 1.22.2's `.Created.Format`).
        let midnight = time("2024-01-01T00:00:00Z");
        assert_eq!(
            midnight.format("2006-01-02T15:04:05.000Z07:00 Mon Jan _2 MST"),
            "2024-01-01T00:00:00.000Z Mon Jan  1 UTC"
        );
        assert_eq!(
            midnight.format(
                "Z07:00 -07 .999 ,000000 pm PM 3 03 15 4 04 5 05 06 __2 002 January Monday"
            ),
            "Z +00  ,000000 am AM 12 12 00 0 00 0 00 24   1 001 January Monday"
        );
        let afternoon = time("2023-06-30T23:59:58.120300000-05:30");
        assert_eq!(
            afternoon.format("Mon Jan 2 3:4:5 PM MST 2006 .999999 ,00 -0700 -07:00:00 Z070000"),
            "Fri Jun 30 11:59:58 PM -0530 2023 .1203 ,12 -0530 -05:30:00 -053000"
        );
        assert_eq!(
            afternoon.format(RFC1123Z),
            "Fri, 30 Jun 2023 23:59:58 -0530"
        );
    }

    #[test]
    fn text_that_only_looks_like_a_piece_is_copied() {
        let t = time("2024-03-05T07:08:09.5Z");
        assert_eq!(t.format("Janet Monthly"), "Janet Monthly");
        assert_eq!(t.format("_2006"), "_2024");
        // Not a fraction: `.`, then `00` (no piece) and `01`, the month.
        assert_eq!(t.format(".0001 x.9"), ".0003 x.5");
        assert_eq!(t.format("no pieces here!"), "no pieces here!");
        assert_eq!(t.format(""), "");
    }
}
