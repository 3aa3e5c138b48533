//! `mkimage DIR TAG LAYERS SIZE_MIB [--seed N] [--platforms os/arch[/variant],…] [--compression gzip|none|zstd]`
//!
//! Writes a deterministic OCI layout into DIR with LAYERS gzip layers of SIZE_MIB MiB each, tagged
//! TAG; with `--platforms`, a multi-platform index over one such image per platform. Used by the
//! benchmark and to make the committed example.

use std::process::ExitCode;

use skopos_testimage::{Compression, ImageSpec, OciLayout, Platform};

const USAGE: &str = "usage: mkimage DIR TAG LAYERS SIZE_MIB [--seed N] \
[--platforms os/arch[/variant],...] [--compression gzip|none|zstd] [--size-bytes]";

struct Arguments {
    dir: String,
    tag: String,
    layers: usize,
    layer_size: usize,
    seed: u64,
    platforms: Vec<Platform>,
    compression: Compression,
}

fn parse_arguments(mut arguments: impl Iterator<Item = String>) -> Result<Arguments, String> {
    let mut positional = Vec::new();
    let mut seed = 1;
    let mut platforms = Vec::new();
    let mut compression = Compression::Gzip;
    let mut size_in_bytes = false;
    while let Some(argument) = arguments.next() {
        let mut value_of = |flag: &str| {
            arguments
                .next()
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match argument.as_str() {
            "--seed" => {
                let text = value_of("--seed")?;
                seed = text
                    .parse()
                    .map_err(|_| format!("--seed {text:?} is not a number"))?;
            }
            "--platforms" => {
                let text = value_of("--platforms")?;
                platforms = text
                    .split(',')
                    .map(|item| {
                        Platform::parse(item)
                            .ok_or_else(|| format!("platform {item:?} is not os/arch[/variant]"))
                    })
                    .collect::<Result<_, _>>()?;
            }
            "--compression" => {
                compression = match value_of("--compression")?.as_str() {
                    "gzip" => Compression::Gzip,
                    "none" => Compression::Uncompressed,
                    #[cfg(feature = "zstd")]
                    "zstd" => Compression::Zstd,
                    other => return Err(format!("unknown compression {other:?}")),
                };
            }
            // SIZE_MIB is taken as bytes: for the tiny committed example.
            "--size-bytes" => size_in_bytes = true,
            "-h" | "--help" => return Err(String::new()),
            _ => positional.push(argument),
        }
    }
    let [dir, tag, layers, size] = <[String; 4]>::try_from(positional)
        .map_err(|got| format!("expected 4 positional arguments, got {}", got.len()))?;
    let layers = layers
        .parse()
        .map_err(|_| format!("LAYERS {layers:?} is not a number"))?;
    let size: usize = size
        .parse()
        .map_err(|_| format!("SIZE_MIB {size:?} is not a number"))?;
    let layer_size = if size_in_bytes {
        size
    } else {
        size.checked_mul(1024 * 1024)
            .ok_or_else(|| format!("SIZE_MIB {size} is too large"))?
    };
    Ok(Arguments {
        dir,
        tag,
        layers,
        layer_size,
        seed,
        platforms,
        compression,
    })
}

fn main() -> ExitCode {
    let arguments = match parse_arguments(std::env::args().skip(1)) {
        Ok(arguments) => arguments,
        Err(message) => {
            if !message.is_empty() {
                eprintln!("mkimage: {message}");
            }
            eprintln!("{USAGE}");
            return ExitCode::FAILURE;
        }
    };
    let spec = ImageSpec::new(arguments.seed)
        .with_layers(arguments.layers, arguments.layer_size)
        .with_compression(arguments.compression);
    let written = OciLayout::create(&arguments.dir).and_then(|layout| {
        if arguments.platforms.is_empty() {
            layout
                .add_image(&spec, Some(&arguments.tag))
                .map(|image| image.manifest.digest)
        } else {
            layout
                .add_index(&spec, &arguments.platforms, Some(&arguments.tag))
                .map(|index| index.index.digest)
        }
    });
    match written {
        Ok(digest) => {
            println!("{digest}");
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("mkimage: writing an image into {}: {error}", arguments.dir);
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(arguments: &[&str]) -> Result<Arguments, String> {
        parse_arguments(arguments.iter().map(|argument| argument.to_string()))
    }

    #[test]
    fn sizes_are_mib_unless_size_bytes_is_given() -> Result<(), String> {
        let mib = parse(&["d", "t", "8", "64", "--seed", "3"])?;
        assert_eq!((mib.layers, mib.layer_size, mib.seed), (8, 64 << 20, 3));
        let bytes = parse(&["d", "t", "1", "512", "--size-bytes"])?;
        assert_eq!(bytes.layer_size, 512);
        Ok(())
    }

    #[test]
    fn platforms_are_parsed_and_bad_ones_rejected() -> Result<(), String> {
        let multi = parse(&[
            "d",
            "t",
            "1",
            "1",
            "--platforms",
            "linux/amd64,linux/arm64/v8",
        ])?;
        assert_eq!(multi.platforms.len(), 2);
        assert!(parse(&["d", "t", "1", "1", "--platforms", "linux"]).is_err());
        assert!(parse(&["d", "t", "1"]).is_err());
        assert!(parse(&["d", "t", "x", "1"]).is_err());
        Ok(())
    }
}
