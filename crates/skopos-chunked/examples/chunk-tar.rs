//! Compresses a tar read from standard input as a zstd:chunked blob on standard output and
//! prints the layer annotations to standard error: the writer alone, without the copy engine
//! around it, for profiling it (`benches/chunked-writer.sh`).
//!
//! Usage: `chunk-tar [LEVEL] < layer.tar > layer.zst` (LEVEL defaults to upstream's 10).

use std::io::{self, BufWriter, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    let level = match std::env::args().nth(1).map(|text| text.parse::<i32>()) {
        None => skopos_chunked::DEFAULT_LEVEL,
        Some(Ok(level)) => level,
        Some(Err(error)) => {
            eprintln!("chunk-tar: the level must be a number: {error}");
            return ExitCode::from(2);
        }
    };
    let input = io::BufReader::with_capacity(128 << 10, io::stdin().lock());
    let output = BufWriter::with_capacity(128 << 10, io::stdout().lock());
    match skopos_chunked::write_chunked(input, output, level) {
        Ok((mut output, layer)) => {
            if let Err(error) = output.flush() {
                eprintln!("chunk-tar: {error}");
                return ExitCode::FAILURE;
            }
            for (name, value) in layer.annotations() {
                eprintln!("{name}={value}");
            }
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!("chunk-tar: {error}");
            ExitCode::FAILURE
        }
    }
}
