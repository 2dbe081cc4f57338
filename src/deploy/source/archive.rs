//! The upload archive: a tar of a local folder that honours `.gitignore` (and `.ignore` and
//! git's exclude files, in or out of a git repository) and never includes `.git` or `.kamal`
//! (secrets and state). Built on a blocking thread and handed over in chunks, so a large
//! folder is streamed rather than held in memory.

use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;

const CHUNK: usize = 64 * 1024;

/// Top-level folders never uploaded: git's own data and kamal's secrets and state.
const NEVER_UPLOADED: [&str; 2] = [".git", ".kamal"];

/// A tar archive of `root`, skipping what `.gitignore` (and `.ignore`, and git's exclude
/// files) exclude, whether or not `root` is in a git repository.
pub fn write_archive<W: Write>(root: &Path, out: W) -> io::Result<W> {
    if !root.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} is not a folder", root.display()),
        ));
    }
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let walk = ignore::WalkBuilder::new(root)
        .hidden(false)
        .require_git(false)
        .parents(true)
        .filter_entry(|entry| {
            !(entry.depth() == 1
                && entry.file_type().is_some_and(|t| t.is_dir())
                && NEVER_UPLOADED
                    .iter()
                    .any(|n| entry.file_name() == std::ffi::OsStr::new(n)))
        })
        .build();
    for entry in walk {
        let entry = entry.map_err(io::Error::other)?;
        if entry.depth() == 0 {
            continue;
        }
        let relative = entry.path().strip_prefix(root).map_err(io::Error::other)?;
        if relative
            .components()
            .any(|c| !matches!(c, Component::Normal(_)))
        {
            continue;
        }
        builder.append_path_with_name(entry.path(), relative)?;
    }
    builder.into_inner()
}

/// Start archiving `root`: the reader yields the archive as it is written; the task ends
/// with the archive's size, or the error that cut it short.
pub fn stream(root: PathBuf) -> (ChunkReader, tokio::task::JoinHandle<io::Result<u64>>) {
    let (tx, rx) = mpsc::channel(4);
    let producer = tokio::task::spawn_blocking(move || {
        let writer = ChunkWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
            total: 0,
        };
        let mut writer = write_archive(&root, writer)?;
        writer.flush()?;
        Ok(writer.total)
    });
    (
        ChunkReader {
            rx,
            chunk: Vec::new(),
            pos: 0,
        },
        producer,
    )
}

struct ChunkWriter {
    tx: mpsc::Sender<Vec<u8>>,
    buf: Vec<u8>,
    total: u64,
}

impl Write for ChunkWriter {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(data);
        if self.buf.len() >= CHUNK {
            self.flush()?;
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.total += chunk.len() as u64;
        self.tx
            .blocking_send(chunk)
            .map_err(|_| io::Error::new(io::ErrorKind::BrokenPipe, "the upload stopped reading"))
    }
}

/// The reading end: chunks in order, then end of file.
pub struct ChunkReader {
    rx: mpsc::Receiver<Vec<u8>>,
    chunk: Vec<u8>,
    pos: usize,
}

impl AsyncRead for ChunkReader {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        loop {
            let rest = self.chunk.get(self.pos..).unwrap_or_default();
            if !rest.is_empty() {
                let n = rest.len().min(buf.remaining());
                buf.put_slice(rest.get(..n).unwrap_or_default());
                self.pos += n;
                return Poll::Ready(Ok(()));
            }
            match self.rx.poll_recv(cx) {
                Poll::Ready(Some(chunk)) => {
                    self.chunk = chunk;
                    self.pos = 0;
                }
                Poll::Ready(None) => return Poll::Ready(Ok(())),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive(root: &Path) -> io::Result<Vec<u8>> {
        write_archive(root, Vec::new())
    }

    #[test]
    fn archive_honours_gitignore_and_skips_kamal() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join(".gitignore"), "*.log\ntarget/\n").unwrap();
        std::fs::write(root.join("keep.txt"), "k").unwrap();
        std::fs::write(root.join("debug.log"), "x").unwrap();
        std::fs::create_dir_all(root.join("target/x")).unwrap();
        std::fs::write(root.join("target/x/big"), "x").unwrap();
        std::fs::create_dir_all(root.join(".kamal")).unwrap();
        std::fs::write(root.join(".kamal/secrets"), "T=1").unwrap();
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("src/main.rs"), "fn main() {}").unwrap();
        let bytes = archive(root).unwrap();
        let mut names: Vec<String> = tar::Archive::new(bytes.as_slice())
            .entries()
            .unwrap()
            .map(|e| e.unwrap().path().unwrap().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(names, vec![".gitignore", "keep.txt", "src", "src/main.rs"]);
        assert!(archive(&root.join("missing")).is_err());
    }

    #[tokio::test]
    async fn streams_the_same_archive_in_chunks() {
        use tokio::io::AsyncReadExt as _;
        let dir = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.path().join("big.bin"), &big).unwrap();
        std::fs::write(dir.path().join("small.txt"), "s").unwrap();
        let (mut reader, producer) = stream(dir.path().to_path_buf());
        let mut streamed = Vec::new();
        reader.read_to_end(&mut streamed).await.unwrap();
        let size = producer.await.unwrap().unwrap();
        assert_eq!(size, streamed.len() as u64);
        assert_eq!(streamed, archive(dir.path()).unwrap());
    }
}
