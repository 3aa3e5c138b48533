//! Value parsers that accept what Go's pflag accepts, with Go's error texts (skopeo prints
//! them as `invalid argument "x" for "--flag" flag: <text>`).

use std::time::Duration;

use skopos_core::go::text::go_parse_int;

/// An `int` flag that must also fit the Rust type the option is stored in.
pub fn parse_go_u32(text: &str) -> Result<u32, String> {
    let value = go_parse_int(text)?;
    u32::try_from(value).map_err(|_| {
        format!(
            "strconv.ParseUint: parsing {}: value out of range",
            skopos_core::go::text::go_quote(text)
        )
    })
}

/// An `int` flag stored as `i32` (compression levels).
pub fn parse_go_i32(text: &str) -> Result<i32, String> {
    let value = go_parse_int(text)?;
    i32::try_from(value).map_err(|_| {
        format!(
            "strconv.ParseInt: parsing {}: value out of range",
            skopos_core::go::text::go_quote(text)
        )
    })
}

/// `time.ParseDuration` for non-negative durations: `300ms`, `1.5h`, `2h45m`, `0`.
/// Units: ns, us (µs, μs), ms, s, m, h.
pub fn parse_go_duration(text: &str) -> Result<Duration, String> {
    let invalid = || {
        format!(
            "time: invalid duration {}",
            skopos_core::go::text::go_quote(text)
        )
    };
    let mut rest = text.strip_prefix('+').unwrap_or(text);
    if rest == "0" {
        return Ok(Duration::ZERO);
    }
    if rest.starts_with('-') {
        // A negative timeout or delay means "none" in skopeo; skopos refuses it clearly.
        return Err(format!(
            "negative duration {} is not supported",
            skopos_core::go::text::go_quote(text)
        ));
    }
    if rest.is_empty() {
        return Err(invalid());
    }
    let mut total_nanos: f64 = 0.0;
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let number = &rest[..number_len];
        if number.is_empty() || number == "." || number.matches('.').count() > 1 {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        rest = &rest[number_len..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let nanos_per_unit = match unit {
            "ns" => 1.0,
            "us" | "µs" | "μs" => 1e3,
            "ms" => 1e6,
            "s" => 1e9,
            "m" => 60e9,
            "h" => 3600e9,
            "" => {
                return Err(format!(
                    "time: missing unit in duration {}",
                    skopos_core::go::text::go_quote(text)
                ))
            }
            other => {
                return Err(format!(
                    "time: unknown unit {} in duration {}",
                    skopos_core::go::text::go_quote(other),
                    skopos_core::go::text::go_quote(text)
                ))
            }
        };
        total_nanos += value * nanos_per_unit;
    }
    if total_nanos > i64::MAX as f64 {
        return Err(invalid());
    }
    Ok(Duration::from_nanos(total_nanos as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_ints_are_range_checked() {
        assert_eq!(parse_go_u32("0x10"), Ok(16));
        assert!(parse_go_u32("-1").is_err());
        assert!(parse_go_i32("4294967296").is_err());
    }

    #[test]
    fn durations_parse_like_go() {
        assert_eq!(parse_go_duration("0"), Ok(Duration::ZERO));
        assert_eq!(parse_go_duration("1h2m3s"), Ok(Duration::from_secs(3723)));
        assert_eq!(parse_go_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse_go_duration("300ms"), Ok(Duration::from_millis(300)));
        assert_eq!(
            parse_go_duration("10"),
            Err("time: missing unit in duration \"10\"".to_string())
        );
        assert!(parse_go_duration("1x").is_err());
        assert!(parse_go_duration("").is_err());
    }
}
