//! Reading helpers shared by the transports and the copy engine.

use tokio::io::{AsyncRead, AsyncReadExt};

/// Read from `reader` until `buf` is full or the stream ends; how many bytes were read.
/// (`read_exact` fails at the end of the stream; a short read here means the end.)
pub async fn read_full<R: AsyncRead + Unpin + ?Sized>(
    reader: &mut R,
    buf: &mut [u8],
) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        let n = reader.read(&mut buf[filled..]).await?;
        if n == 0 {
            break;
        }
        filled += n;
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn fills_across_short_reads_and_stops_at_the_end() {
        let (mut writer, mut reader) = tokio::io::duplex(3);
        let feeder = tokio::spawn(async move {
            use tokio::io::AsyncWriteExt;
            writer.write_all(b"abcdefgh").await.unwrap();
        });
        let mut buf = [0u8; 5];
        assert_eq!(read_full(&mut reader, &mut buf).await.unwrap(), 5);
        assert_eq!(&buf, b"abcde");
        feeder.await.unwrap();
        assert_eq!(read_full(&mut reader, &mut buf).await.unwrap(), 3);
        assert_eq!(&buf[..3], b"fgh");
    }
}
