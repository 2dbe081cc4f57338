//! Tar archives of local folders, streamed: the source upload (honours `.gitignore`, `.ignore`
//! and git's exclude files, in or out of a git repository; never `.git`) and a remote
//! `docker build`'s context (honours the folder's `.dockerignore`, plus generated files
//! added by name). Neither ever includes `.kamal` (secrets and state). Built on a blocking
//! thread and handed over in chunks, so a large folder is streamed rather than held in
//! memory.

use std::io::{self, Write};
use std::path::{Component, Path, PathBuf};
use std::pin::Pin;
use std::task::{Context, Poll};

use tokio::io::{AsyncRead, ReadBuf};
use tokio::sync::mpsc;

const CHUNK: usize = 64 * 1024;

/// Top-level folders never uploaded: git's own data and kamal's secrets and state.
const NEVER_UPLOADED: [&str; 2] = [".git", ".kamal"];

/// What goes into an archive.
#[derive(Debug, Clone)]
pub enum Selection {
    /// The source upload of a folder: what git would keep.
    Source(PathBuf),
    /// A `docker build` context: the folder's files that its root `.dockerignore` keeps
    /// (patterns read with gitignore rules, a close match of Docker's), folders copied
    /// whole under a name (Features), and generated files (name, contents).
    BuildContext {
        folder: Option<PathBuf>,
        trees: Vec<(PathBuf, String)>,
        extra: Vec<(String, Vec<u8>)>,
    },
}

/// A tar archive holding what `selection` keeps. The source upload skips what `.gitignore`
/// (and `.ignore`, and git's exclude files) exclude, whether or not the folder is in a git
/// repository.
pub fn write_selection<W: Write>(selection: &Selection, out: W) -> io::Result<W> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    match selection {
        Selection::Source(root) => append_folder(&mut builder, root, false)?,
        Selection::BuildContext {
            folder,
            trees,
            extra,
        } => {
            if let Some(folder) = folder {
                append_folder(&mut builder, folder, true)?;
            }
            for (source, name) in trees {
                if !source.is_dir() {
                    return Err(io::Error::new(
                        io::ErrorKind::NotFound,
                        format!("{} is not a folder", source.display()),
                    ));
                }
                builder.append_dir_all(name, source)?;
            }
            for (name, contents) in extra {
                let mut header = tar::Header::new_gnu();
                header.set_size(contents.len() as u64);
                header.set_mode(0o644);
                header.set_mtime(0);
                header.set_entry_type(tar::EntryType::Regular);
                builder.append_data(&mut header, name, contents.as_slice())?;
            }
        }
    }
    builder.into_inner()
}

/// Append the files of `root` (relative names): a build context's (`.dockerignore`) or a
/// source upload's (`.gitignore`).
fn append_folder<W: Write>(
    builder: &mut tar::Builder<W>,
    root: &Path,
    build_context: bool,
) -> io::Result<()> {
    if !root.is_dir() {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("{} is not a folder", root.display()),
        ));
    }
    let mut walk = ignore::WalkBuilder::new(root);
    walk.hidden(false);
    if build_context {
        let mut rules = ignore::gitignore::GitignoreBuilder::new(root);
        let dockerignore = root.join(".dockerignore");
        if dockerignore.is_file()
            && let Some(err) = rules.add(&dockerignore)
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("{}: {err}", dockerignore.display()),
            ));
        }
        let rules = rules.build().map_err(io::Error::other)?;
        walk.standard_filters(false).filter_entry(move |entry| {
            let is_dir = entry.file_type().is_some_and(|t| t.is_dir());
            let kamal = entry.depth() == 1 && is_dir && entry.file_name() == ".kamal";
            !kamal && !rules.matched(entry.path(), is_dir).is_ignore()
        });
    } else {
        walk.require_git(false).parents(true).filter_entry(|entry| {
            !(entry.depth() == 1
                && entry.file_type().is_some_and(|t| t.is_dir())
                && NEVER_UPLOADED
                    .iter()
                    .any(|n| entry.file_name() == std::ffi::OsStr::new(n)))
        });
    }
    let walk = walk.build();
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
    Ok(())
}

/// Start archiving `root`: the reader yields the archive as it is written; the task ends
/// with the archive's size, or the error that cut it short.
pub fn stream(selection: Selection) -> (ChunkReader, tokio::task::JoinHandle<io::Result<u64>>) {
    let (tx, rx) = mpsc::channel(4);
    let producer = tokio::task::spawn_blocking(move || {
        let writer = ChunkWriter {
            tx,
            buf: Vec::with_capacity(CHUNK),
            total: 0,
        };
        let mut writer = write_selection(&selection, writer)?;
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
        write_selection(&Selection::Source(root.to_path_buf()), Vec::new())
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

    #[test]
    fn build_context_honours_dockerignore_not_gitignore_and_adds_generated_files() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        std::fs::write(root.join(".gitignore"), "built.txt\n").unwrap();
        std::fs::write(
            root.join(".dockerignore"),
            "*.log\nnode_modules\n!keep.log\n",
        )
        .unwrap();
        std::fs::write(root.join("built.txt"), "b").unwrap();
        std::fs::write(root.join("debug.log"), "x").unwrap();
        std::fs::write(root.join("keep.log"), "k").unwrap();
        std::fs::create_dir_all(root.join("node_modules/x")).unwrap();
        std::fs::write(root.join("node_modules/x/i.js"), "x").unwrap();
        std::fs::create_dir_all(root.join(".kamal")).unwrap();
        std::fs::write(root.join(".kamal/secrets"), "T=1").unwrap();
        std::fs::create_dir_all(root.join(".devcontainer/hello")).unwrap();
        std::fs::write(root.join(".devcontainer/hello/install.sh"), "echo hi").unwrap();
        let selection = Selection::BuildContext {
            folder: Some(root.to_path_buf()),
            trees: vec![(root.join(".devcontainer/hello"), "hello_0".into())],
            extra: vec![(".kamal-dev.Dockerfile".into(), b"FROM scratch\n".to_vec())],
        };
        let bytes = write_selection(&selection, Vec::new()).unwrap();
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut names = Vec::new();
        for entry in archive.entries().unwrap() {
            let mut entry = entry.unwrap();
            let name = entry.path().unwrap().to_string_lossy().into_owned();
            if name == ".kamal-dev.Dockerfile" {
                let mut text = String::new();
                std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
                assert_eq!(text, "FROM scratch\n");
            }
            names.push(name);
        }
        names.sort();
        assert_eq!(
            names,
            vec![
                ".devcontainer",
                ".devcontainer/hello",
                ".devcontainer/hello/install.sh",
                ".dockerignore",
                ".gitignore",
                ".kamal-dev.Dockerfile",
                "built.txt",
                "hello_0/",
                "hello_0/install.sh",
                "keep.log"
            ]
        );
    }

    #[tokio::test]
    async fn streams_the_same_archive_in_chunks() {
        use tokio::io::AsyncReadExt as _;
        let dir = tempfile::tempdir().unwrap();
        let big: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(dir.path().join("big.bin"), &big).unwrap();
        std::fs::write(dir.path().join("small.txt"), "s").unwrap();
        let (mut reader, producer) = stream(Selection::Source(dir.path().to_path_buf()));
        let mut streamed = Vec::new();
        reader.read_to_end(&mut streamed).await.unwrap();
        let size = producer.await.unwrap().unwrap();
        assert_eq!(size, streamed.len() as u64);
        assert_eq!(streamed, archive(dir.path()).unwrap());
    }
}
