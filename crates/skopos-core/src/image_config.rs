//! Image configuration blobs: reading them as containers/image (v5.22, vendored by skopeo
//! 1.9.3) reads them, and writing the OCI `v1.Image` form that `skopeo inspect --config`
//! prints.
//!
//! Go's `encoding/json` semantics matter here because `inspect` output is compared byte for
//! byte with skopeo's: unknown fields are ignored, `null` leaves a field at its zero value,
//! a nil map or slice differs from an empty one where there is no `omitempty`, and times
//! keep the UTC offset they were written with.

use std::collections::BTreeMap;
use std::fmt;

use serde::de::{Deserializer, IgnoredAny};
use serde::ser::Serializer;
use serde::{Deserialize, Serialize};

/// Deserialize a field whose JSON `null` means "leave the zero value", as Go does.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

fn is_none_or_empty_map<K, V>(map: &Option<BTreeMap<K, V>>) -> bool {
    map.as_ref().is_none_or(BTreeMap::is_empty)
}

fn is_none_or_empty_vec<T>(list: &Option<Vec<T>>) -> bool {
    list.as_ref().is_none_or(Vec::is_empty)
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// Go's `struct{}`: any JSON value is accepted (and dropped) when reading, `{}` is written.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct EmptyObject;

impl Serialize for EmptyObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        serializer.serialize_map(Some(0))?.end()
    }
}

impl<'de> Deserialize<'de> for EmptyObject {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        IgnoredAny::deserialize(deserializer)?;
        Ok(EmptyObject)
    }
}

/// A point in time as Go's `time.Time` holds one after parsing RFC 3339: the instant plus
/// the UTC offset it was written with (Go prints times back in that offset).
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
        let text = String::deserialize(deserializer)?;
        GoTime::parse_rfc3339(&text).map_err(serde::de::Error::custom)
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

/// The OCI image configuration (`v1.Image` of the image-spec revision containers/image
/// v5.22 vendors), in Go field order with Go's `omitempty` rules. Docker schema 2 configs
/// are read into it directly, dropping docker-only fields, as containers/image does.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OciImage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<GoTime>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub author: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub architecture: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub variant: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub os: String,
    #[serde(
        rename = "os.version",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub os_version: String,
    #[serde(
        rename = "os.features",
        default,
        skip_serializing_if = "is_none_or_empty_vec"
    )]
    pub os_features: Option<Vec<String>>,
    /// Go's `omitempty` never omits a struct, so `"config": {}` is always written.
    #[serde(default, deserialize_with = "null_as_default")]
    pub config: OciImageConfig,
    #[serde(default, deserialize_with = "null_as_default")]
    pub rootfs: OciRootFs,
    #[serde(default, skip_serializing_if = "is_none_or_empty_vec")]
    pub history: Option<Vec<OciHistory>>,
}

/// `v1.ImageConfig`: the runtime defaults of containers made from the image. Maps and
/// lists are `Option`s because `inspect` prints a missing one as `null` and an empty one
/// as `{}` / `[]`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OciImageConfig {
    #[serde(
        rename = "User",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub user: String,
    #[serde(
        rename = "ExposedPorts",
        default,
        skip_serializing_if = "is_none_or_empty_map"
    )]
    pub exposed_ports: Option<BTreeMap<String, EmptyObject>>,
    #[serde(rename = "Env", default, skip_serializing_if = "is_none_or_empty_vec")]
    pub env: Option<Vec<String>>,
    #[serde(
        rename = "Entrypoint",
        default,
        skip_serializing_if = "is_none_or_empty_vec"
    )]
    pub entrypoint: Option<Vec<String>>,
    #[serde(rename = "Cmd", default, skip_serializing_if = "is_none_or_empty_vec")]
    pub cmd: Option<Vec<String>>,
    #[serde(
        rename = "Volumes",
        default,
        skip_serializing_if = "is_none_or_empty_map"
    )]
    pub volumes: Option<BTreeMap<String, EmptyObject>>,
    #[serde(
        rename = "WorkingDir",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub working_dir: String,
    #[serde(
        rename = "Labels",
        default,
        skip_serializing_if = "is_none_or_empty_map"
    )]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(
        rename = "StopSignal",
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub stop_signal: String,
}

/// `v1.RootFS`. `diff_ids` has no `omitempty`: a missing list is written as `null`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OciRootFs {
    #[serde(rename = "type", default, deserialize_with = "null_as_default")]
    pub fs_type: String,
    /// Kept as strings: Go does not validate digests when decoding.
    #[serde(default)]
    pub diff_ids: Option<Vec<String>>,
}

/// `v1.History`: one build step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct OciHistory {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<GoTime>,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub created_by: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub author: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "String::is_empty"
    )]
    pub comment: String,
    #[serde(
        default,
        deserialize_with = "null_as_default",
        skip_serializing_if = "is_false"
    )]
    pub empty_layer: bool,
}

/// The fields of a Docker image config (`Schema2V1Image` in containers/image) that
/// `inspect` reports beyond the OCI ones. Also the shape of a schema 1 manifest's
/// `v1Compatibility` entries.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct DockerImageConfig {
    /// Not a pointer in Go: absent means [`GoTime::ZERO`].
    #[serde(default)]
    pub created: Option<GoTime>,
    #[serde(default, deserialize_with = "null_as_default")]
    pub docker_version: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub author: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub architecture: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub variant: String,
    #[serde(default, deserialize_with = "null_as_default")]
    pub os: String,
    /// `None` when the config has no (or a `null`) `config` object.
    #[serde(default)]
    pub config: Option<DockerContainerConfig>,
}

impl DockerImageConfig {
    /// `created`, with Go's zero time when absent.
    pub fn created_or_zero(&self) -> GoTime {
        self.created.unwrap_or(GoTime::ZERO)
    }
}

/// The part of a Docker container config `inspect` reads.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
pub struct DockerContainerConfig {
    #[serde(rename = "Labels", default)]
    pub labels: Option<BTreeMap<String, String>>,
    #[serde(rename = "Env", default)]
    pub env: Option<Vec<String>>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gojson;

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

    #[test]
    fn oci_image_round_trips_in_go_field_order() {
        let blob = br#"{"architecture":"amd64","os":"linux","created":"2024-05-06T07:08:09.5+01:00",
            "docker_version":"20.10","config":{"Cmd":["sh"],"Labels":{"a":"<b>&"},"ExposedPorts":{"80/tcp":{}},
            "Hostname":"x","Env":null},"rootfs":{"type":"layers","diff_ids":["sha256:aa"]},
            "history":[{"created_by":"x","empty_layer":true},{"comment":"c"}],"variant":null}"#;
        let image: OciImage = serde_json::from_slice(blob).unwrap();
        let out = String::from_utf8(gojson::to_vec(&image).unwrap()).unwrap();
        assert_eq!(
            out,
            r#"{"created":"2024-05-06T07:08:09.5+01:00","architecture":"amd64","os":"linux","config":{"ExposedPorts":{"80/tcp":{}},"Cmd":["sh"],"Labels":{"a":"\u003cb\u003e\u0026"}},"rootfs":{"type":"layers","diff_ids":["sha256:aa"]},"history":[{"created_by":"x","empty_layer":true},{"comment":"c"}]}"#
        );
    }

    #[test]
    fn minimal_config_keeps_go_zero_values() {
        let image: OciImage = serde_json::from_slice(b"{}").unwrap();
        let out = String::from_utf8(gojson::to_vec(&image).unwrap()).unwrap();
        assert_eq!(
            out,
            r#"{"architecture":"","os":"","config":{},"rootfs":{"type":"","diff_ids":null}}"#
        );
        let docker: DockerImageConfig = serde_json::from_slice(b"{\"config\":null}").unwrap();
        assert_eq!(docker.created_or_zero(), GoTime::ZERO);
        assert!(docker.config.is_none());
    }
}
