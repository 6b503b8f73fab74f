//! Bounded output logs: a log that rolls over into numbered segments.
//!
//! A session's output log (`<id>.out.log`, `<id>.err.log`) starts as one
//! plain file. When a write would take it past `max_size`, the part that
//! fits is written and the log rolls over: the file becomes the segment
//! `<id>.out.log.0`, a new segment `<id>.out.log.<START>` takes the rest,
//! and `<id>.out.log` becomes a symbolic link to it. Every segment is named
//! by START, the global offset of its first byte, counted from the first
//! byte the session ever wrote; so every offset baton records (`spawn`'s
//! `out_offset`, a reader's place) stays global, and a file says where it
//! belongs by its name alone. The newest segment is the active one; the
//! link always names it once the log has rolled (`tail -F` follows it).
//! With `keep`, the oldest finished segments past the newest `keep` are
//! deleted; a reader asking for their bytes is told what was dropped.
//!
//! A roll-over is a create and an atomic rename of a new link over the old
//! one (the first one also renames the plain file). A writer that dies
//! between the steps leaves either no `<id>.out.log` (readers see the log
//! end where the last segment ends) or a new empty segment the link does
//! not name yet; [`RollingWriter::open`] takes the newest segment as the
//! active one and puts the link right. A death during the deletions leaves
//! extra old segments, which the next open or roll-over deletes.

use std::ffi::OsString;
use std::fs::{File, OpenOptions};
use std::io::{self, ErrorKind, Write};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

/// When a log rolls over and how many finished segments it keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Largest size of one file; 0: never roll over.
    pub max_size: u64,
    /// Finished segments kept (the newest); `None`: all.
    pub keep: Option<u32>,
}

impl Limits {
    /// A log that grows without bound, as before segments existed.
    pub const UNBOUNDED: Limits = Limits {
        max_size: 0,
        keep: None,
    };
}

/// One segment of a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Segment {
    /// Global offset of its first byte.
    pub start: u64,
    /// Its size when listed.
    pub len: u64,
    /// Its file.
    pub path: PathBuf,
}

impl Segment {
    /// Global offset just past its last byte (when listed).
    pub fn end(&self) -> u64 {
        self.start + self.len
    }
}

/// The file of the segment of the log `path` starting at `start`.
pub fn segment_path(path: &Path, start: u64) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(format!(".{start}"));
    PathBuf::from(name)
}

/// The directory of `path` and its file name as text.
fn split(path: &Path) -> Option<(&Path, &str)> {
    let name = path.file_name()?.to_str()?;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    Some((dir, name))
}

/// The start a segment's file name gives, for the log named `log_name`.
fn start_of(log_name: &str, file_name: &str) -> Option<u64> {
    file_name
        .strip_prefix(log_name)?
        .strip_prefix('.')
        .filter(|n| !n.is_empty() && n.len() <= 20 && n.bytes().all(|b| b.is_ascii_digit()))?
        .parse()
        .ok()
}

/// Every segment of the log `path`, oldest first, the active one included
/// once the log has rolled. A directory that does not exist holds none.
pub fn segments(path: &Path) -> io::Result<Vec<Segment>> {
    let Some((dir, name)) = split(path) else {
        return Ok(Vec::new());
    };
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        let Some(start) = entry.file_name().to_str().and_then(|n| start_of(name, n)) else {
            continue;
        };
        let len = match entry.metadata() {
            Ok(meta) if meta.is_file() => meta.len(),
            Ok(_) => continue,
            // Deleted by retention since the listing.
            Err(e) if e.kind() == ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        found.push(Segment {
            start,
            len,
            path: entry.path(),
        });
    }
    found.sort_by_key(|s| s.start);
    Ok(found)
}

/// What `path` itself is.
pub(crate) enum Head {
    /// Nothing: no log yet, or a writer died during its first roll-over.
    Missing,
    /// A plain file: the log has never rolled; it starts at 0.
    Plain,
    /// A link to the active segment, which starts at this offset.
    Link(u64),
}

pub(crate) fn head(path: &Path) -> io::Result<Head> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => {}
        Ok(_) => return Ok(Head::Plain),
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Head::Missing),
        Err(e) => return Err(e),
    }
    let target = match std::fs::read_link(path) {
        Ok(target) => target,
        // Replaced by a plain file (a writer of an older baton) or removed.
        Err(e) if matches!(e.kind(), ErrorKind::NotFound | ErrorKind::InvalidInput) => {
            return head_again(path);
        }
        Err(e) => return Err(e),
    };
    let start = split(path)
        .zip(target.file_name().and_then(|n| n.to_str()))
        .and_then(|((_, name), target)| start_of(name, target));
    match start {
        Some(start) => Ok(Head::Link(start)),
        None => Err(io::Error::new(
            ErrorKind::InvalidData,
            format!(
                "{} links to {}, which is not one of its segments",
                path.display(),
                target.display()
            ),
        )),
    }
}

fn head_again(path: &Path) -> io::Result<Head> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if !meta.file_type().is_symlink() => Ok(Head::Plain),
        Ok(_) => Err(io::Error::other(format!(
            "{} changed while it was read",
            path.display()
        ))),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(Head::Missing),
        Err(e) => Err(e),
    }
}

/// The global length of the log `path`: every byte it was ever given,
/// dropped segments included.
pub fn global_len(path: &Path) -> io::Result<u64> {
    LogReader::new(path).len()
}

/// Deletes the oldest finished segments (before `active`) past the newest
/// `keep`.
fn apply_retention(path: &Path, active: u64, keep: Option<u32>) -> io::Result<()> {
    let Some(keep) = keep else {
        return Ok(());
    };
    let finished: Vec<Segment> = segments(path)?
        .into_iter()
        .filter(|s| s.start < active)
        .collect();
    let drop = finished.len().saturating_sub(keep as usize);
    for old in &finished[..drop] {
        match std::fs::remove_file(&old.path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Points the link `path` at the segment starting at `start`, atomically
/// (a new link renamed over the old one, or over nothing).
pub(crate) fn link_to(path: &Path, start: u64) -> io::Result<()> {
    let Some((_, name)) = split(path) else {
        return Err(io::Error::new(
            ErrorKind::InvalidInput,
            "a log needs a file name",
        ));
    };
    let mut tmp = OsString::from(path.as_os_str());
    tmp.push(".link");
    let tmp = PathBuf::from(tmp);
    let _ = std::fs::remove_file(&tmp);
    std::os::unix::fs::symlink(format!("{name}.{start}"), &tmp)?;
    std::fs::rename(&tmp, path)
}

/// Appends to a log, rolling it over at its size limit. One writer per log
/// at a time (a run's).
#[derive(Debug)]
pub struct RollingWriter {
    path: PathBuf,
    /// The active file; `None` after a roll-over that could not make the
    /// next one: the next write tries again.
    file: Option<File>,
    /// Where the active file is: `path` itself (never rolled) or a segment.
    active: ActiveFile,
    /// Bytes in the active file.
    len: u64,
    limits: Limits,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ActiveFile {
    /// The plain file at the log's path, from offset 0.
    Plain,
    /// The segment starting at this offset.
    Segment(u64),
}

impl ActiveFile {
    fn base(self) -> u64 {
        match self {
            ActiveFile::Plain => 0,
            ActiveFile::Segment(start) => start,
        }
    }
}

impl RollingWriter {
    /// Opens (creating) the log at `path` to append after its last byte,
    /// repairing what a writer that died mid-roll-over left, and deletes
    /// segments past what `limits` keeps.
    pub fn open(path: &Path, limits: Limits) -> io::Result<RollingWriter> {
        let head = head(path)?;
        // A plain file has never rolled: no listing of the directory.
        let newest = match head {
            Head::Plain => None,
            _ => segments(path)?.pop(),
        };
        let active = match (head, newest) {
            (Head::Plain, _) => ActiveFile::Plain,
            (Head::Missing, None) => ActiveFile::Plain,
            // Died after the plain file became segment 0: a new segment
            // after it.
            (Head::Missing, Some(last)) => {
                let next = last.end();
                create_segment(path, next)?;
                link_to(path, next)?;
                ActiveFile::Segment(next)
            }
            // The newest segment is the active one, whatever the link says
            // (a writer may have died before moving it).
            (Head::Link(linked), Some(last)) => {
                if linked != last.start {
                    link_to(path, last.start)?;
                }
                ActiveFile::Segment(last.start)
            }
            (Head::Link(linked), None) => {
                create_segment(path, linked)?;
                ActiveFile::Segment(linked)
            }
        };
        let file = match active {
            ActiveFile::Plain => open_append(path)?,
            ActiveFile::Segment(start) => open_append(&segment_path(path, start))?,
        };
        let len = file.metadata()?.len();
        apply_retention(path, active.base(), limits.keep)?;
        Ok(RollingWriter {
            path: path.to_owned(),
            file: Some(file),
            active,
            len,
            limits,
        })
    }

    /// The global length: where the next byte goes.
    pub fn len(&self) -> u64 {
        self.active.base() + self.len
    }

    /// True when nothing was ever written.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes all of `bytes`, rolling over as often as the limit requires.
    pub fn append(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            if self.limits.max_size > 0 && self.len >= self.limits.max_size {
                self.roll()?;
            }
            let room = match self.limits.max_size {
                0 => bytes.len(),
                max => (max - self.len).min(bytes.len() as u64) as usize,
            };
            let file = match &mut self.file {
                Some(file) => file,
                None => {
                    let reopened = RollingWriter::open(&self.path, self.limits)?;
                    *self = reopened;
                    continue;
                }
            };
            file.write_all(&bytes[..room])?;
            self.len += room as u64;
            bytes = &bytes[room..];
        }
        Ok(())
    }

    /// Moves up to `max` bytes from the pipe `from` into the log with
    /// `splice(2)`, with no copy through this process, rolling over first
    /// when the active file is full; a move never crosses a roll-over.
    /// Returns how many bytes it moved: 0 at the pipe's end. Blocks while
    /// the pipe is empty. A kernel or file system that cannot splice
    /// answers `EINVAL`: write with [`RollingWriter::append`] then.
    pub fn splice_from(
        &mut self,
        from: std::os::fd::BorrowedFd<'_>,
        max: usize,
    ) -> io::Result<usize> {
        if self.limits.max_size > 0 && self.len >= self.limits.max_size {
            // Roll over only for a next byte: not at the pipe's end.
            if !has_input(from)? {
                return Ok(0);
            }
            self.roll()?;
        }
        let room = match self.limits.max_size {
            0 => max,
            limit => (limit - self.len).min(max as u64) as usize,
        };
        if self.file.is_none() {
            *self = RollingWriter::open(&self.path, self.limits)?;
        }
        let Some(file) = &self.file else {
            return Err(io::Error::other("the log has no active file"));
        };
        let moved = rustix::pipe::splice(
            from,
            None,
            file,
            None,
            room,
            rustix::pipe::SpliceFlags::MOVE,
        )?;
        self.len += moved as u64;
        Ok(moved)
    }

    /// Finishes the active file as a segment and starts the next one.
    fn roll(&mut self) -> io::Result<()> {
        let next = self.len();
        // Closed only once the next file is named: a follower woken by the
        // close (a file watch) finds the next file already there.
        let finished = self.file.take();
        if self.active == ActiveFile::Plain {
            std::fs::rename(&self.path, segment_path(&self.path, 0))?;
            crate::fault::point(crate::fault::LOG_ROLLED);
        }
        crate::fault::pause(crate::fault::LOG_ROLL_SLOW, crate::fault::ROLL_PAUSE);
        let file = create_segment(&self.path, next)?;
        link_to(&self.path, next)?;
        drop(finished);
        self.active = ActiveFile::Segment(next);
        self.len = 0;
        self.file = Some(file);
        apply_retention(&self.path, next, self.limits.keep)
    }
}

impl Write for RollingWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.append(buf)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        // Unbuffered: every write is in the kernel when it returns.
        Ok(())
    }
}

/// Opens a log file to write after its last byte. Not `O_APPEND`: a log
/// has one writer, and on ext4 append-mode writes of a flood cost
/// measurably more CPU than positioned ones.
fn open_append(path: &Path) -> io::Result<File> {
    use std::io::{Seek, SeekFrom};
    let mut file = OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(false)
        .open(path)?;
    file.seek(SeekFrom::End(0))?;
    Ok(file)
}

/// Waits until the pipe `fd` has a byte to read (true) or is at its end
/// (false).
fn has_input(fd: std::os::fd::BorrowedFd<'_>) -> io::Result<bool> {
    use std::os::fd::AsRawFd;
    let mut poll = libc::pollfd {
        fd: fd.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    loop {
        // SAFETY: poll on one valid pollfd, for as long as it takes.
        if unsafe { libc::poll(&mut poll, 1, -1) } >= 0 {
            break;
        }
        let e = io::Error::last_os_error();
        if e.kind() != ErrorKind::Interrupted {
            return Err(e);
        }
    }
    let mut available: libc::c_int = 0;
    // SAFETY: FIONREAD writes one int through a valid pointer.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::FIONREAD, &mut available) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(available > 0)
}

/// Makes the (empty) segment starting at `start`; one left empty by a
/// writer that died before linking it is taken as it is.
fn create_segment(path: &Path, start: u64) -> io::Result<File> {
    open_append(&segment_path(path, start))
}

/// What [`LogReader::read_into`] found at an offset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Got {
    /// This many bytes, into the buffer; 0 at the end of the log.
    Bytes(usize),
    /// Retention deleted the bytes from the offset up to `to`.
    Dropped {
        /// The first offset still kept.
        to: u64,
    },
}

/// What a read of a log found at an offset.
#[derive(Debug, PartialEq, Eq)]
pub enum Chunk {
    /// Bytes from the offset; empty at the end of the log.
    Bytes(Vec<u8>),
    /// The bytes from the offset up to `to` were in segments retention has
    /// deleted; the log goes on at `to`.
    Dropped {
        /// The first offset still kept.
        to: u64,
    },
}

/// Reads a log by global offset, across its segments, following roll-overs
/// as they happen. It holds the active file open and knows where it starts
/// by its name, so a roll-over at any moment never misplaces a byte; it
/// lists the directory only to read a finished segment.
#[derive(Debug)]
pub struct LogReader {
    path: PathBuf,
    /// The active file as last seen: where it starts, and the file.
    active: Option<(ActiveFile, File)>,
    /// Where the log ends when it has no active file (mid-roll-over).
    bare_end: u64,
    /// The finished segments as last listed.
    listed: Vec<Segment>,
    /// The finished segment last read, open.
    open_segment: Option<(u64, File)>,
    /// How many times the active file was looked for (see
    /// [`LogReader::located`]).
    located: u64,
}

impl LogReader {
    /// A reader of the log `path`; nothing is opened until it is read.
    pub fn new(path: &Path) -> LogReader {
        LogReader {
            path: path.to_owned(),
            active: None,
            bare_end: 0,
            listed: Vec::new(),
            open_segment: None,
            located: 0,
        }
    }

    /// A number that changes each time the reader looked for the log's
    /// active file again (a roll-over, or its first read): a follower
    /// watching that file needs a new watch only then.
    pub fn located(&self) -> u64 {
        self.located
    }

    /// The log's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// True once the log has a file.
    pub fn exists(&mut self) -> bool {
        self.current().is_ok() && (self.active.is_some() || self.bare_end > 0)
    }

    /// The active file, when the log has one (to watch it).
    pub fn active_path(&mut self) -> io::Result<Option<PathBuf>> {
        self.current()?;
        Ok(self.active.as_ref().map(|(active, _)| match active {
            ActiveFile::Plain => self.path.clone(),
            ActiveFile::Segment(start) => segment_path(&self.path, *start),
        }))
    }

    /// The global length of the log.
    pub fn len(&mut self) -> io::Result<u64> {
        self.current()?;
        match &self.active {
            Some((active, file)) => Ok(active.base() + file.metadata()?.len()),
            None => Ok(self.bare_end),
        }
    }

    /// True when the log holds no byte yet.
    pub fn is_empty(&mut self) -> io::Result<bool> {
        Ok(self.len()? == 0)
    }

    /// The first offset still kept (0 unless retention deleted segments).
    pub fn first_kept(&mut self) -> io::Result<u64> {
        self.current()?;
        self.listed = finished(&self.path, self.base())?;
        Ok(self.listed.first().map_or(self.base(), |s| s.start))
    }

    /// Where the active file starts (the log's end when it has none).
    fn base(&self) -> u64 {
        match &self.active {
            Some((active, _)) => active.base(),
            None => self.bare_end,
        }
    }

    /// Up to `max` bytes from global offset `pos`, from one file (a read
    /// never spans two segments: call again for the rest).
    pub fn read_at(&mut self, pos: u64, max: usize) -> io::Result<Chunk> {
        let mut buf = vec![0; max];
        match self.read_into(pos, &mut buf)? {
            Got::Bytes(n) => {
                buf.truncate(n);
                Ok(Chunk::Bytes(buf))
            }
            Got::Dropped { to } => Ok(Chunk::Dropped { to }),
        }
    }

    /// [`LogReader::read_at`] into `buf`: bytes from one file, as many as
    /// fit. Reading on in the active file costs one `pread`; the log's name
    /// is looked at again only at the end of the file held.
    pub fn read_into(&mut self, pos: u64, buf: &mut [u8]) -> io::Result<Got> {
        let mut located = false;
        if self.active.is_none() {
            self.locate()?;
            located = true;
        }
        loop {
            if pos < self.base() {
                return self.read_finished(pos, buf);
            }
            if let Some((active, file)) = &self.active {
                let n = read_some(file, pos - active.base(), buf)?;
                if n > 0 {
                    return Ok(Got::Bytes(n));
                }
            }
            // At the end of the file held: the log's end, or a roll-over.
            if located || !self.moved()? {
                return Ok(Got::Bytes(0));
            }
            self.locate()?;
            located = true;
        }
    }

    /// Reads from the finished segment holding `pos`.
    fn read_finished(&mut self, pos: u64, buf: &mut [u8]) -> io::Result<Got> {
        for _ in 0..16 {
            let found = match self.listed.iter().find(|s| pos < s.end()) {
                Some(found) => Some(found.clone()),
                None => {
                    self.listed = finished(&self.path, self.base())?;
                    self.listed.iter().find(|s| pos < s.end()).cloned()
                }
            };
            let Some(segment) = found else {
                // Nothing finished holds it: every segment before the
                // active one is gone.
                return Ok(Got::Dropped { to: self.base() });
            };
            if pos < segment.start {
                return Ok(Got::Dropped { to: segment.start });
            }
            let want = buf.len().min((segment.end() - pos) as usize);
            let file = match &self.open_segment {
                Some((start, file)) if *start == segment.start => file,
                _ => match File::open(&segment.path) {
                    Ok(file) => &self.open_segment.insert((segment.start, file)).1,
                    Err(e) if e.kind() == ErrorKind::NotFound => {
                        // Deleted by retention since it was listed.
                        self.listed = finished(&self.path, self.base())?;
                        continue;
                    }
                    Err(e) => return Err(e),
                },
            };
            return Ok(Got::Bytes(read_some(
                file,
                pos - segment.start,
                &mut buf[..want],
            )?));
        }
        Err(io::Error::other(format!(
            "{}: its segments kept going while they were read",
            self.path.display()
        )))
    }

    /// Makes sure the reader holds the current active file.
    fn current(&mut self) -> io::Result<()> {
        if self.active.is_none() || self.moved()? {
            self.locate()?;
        }
        Ok(())
    }

    /// Whether the log's path names another active file than the one held.
    fn moved(&self) -> io::Result<bool> {
        let Some((held, _)) = &self.active else {
            return Ok(true);
        };
        Ok(match head(&self.path)? {
            Head::Plain => *held != ActiveFile::Plain,
            Head::Link(start) => *held != ActiveFile::Segment(start),
            Head::Missing => true,
        })
    }

    /// Opens the active file the log's path names.
    fn locate(&mut self) -> io::Result<()> {
        self.located += 1;
        for _ in 0..64 {
            let (active, path) = match head(&self.path)? {
                Head::Plain => (ActiveFile::Plain, self.path.clone()),
                Head::Link(start) => (ActiveFile::Segment(start), segment_path(&self.path, start)),
                Head::Missing => {
                    self.active = None;
                    self.bare_end = segments(&self.path)?.last().map_or(0, Segment::end);
                    return Ok(());
                }
            };
            match File::open(&path) {
                Ok(file) => {
                    self.active = Some((active, file));
                    return Ok(());
                }
                // A plain file renamed, or a segment deleted, since: look again.
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            }
        }
        Err(io::Error::other(format!(
            "{} kept changing while it was read",
            self.path.display()
        )))
    }
}

/// The finished segments of the log `path` (those before `active`).
fn finished(path: &Path, active: u64) -> io::Result<Vec<Segment>> {
    let mut found = segments(path)?;
    found.retain(|s| s.start < active);
    Ok(found)
}

/// Fills `buf` from `file` at `pos` as far as the file goes; returns how
/// much it read.
fn read_some(file: &File, pos: u64, buf: &mut [u8]) -> io::Result<usize> {
    let mut got = 0;
    while got < buf.len() {
        match file.read_at(&mut buf[got..], pos + got as u64) {
            Ok(0) => break,
            Ok(n) => got += n,
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(got)
}

/// Cuts the log `path` back to its first `len` bytes (a global length):
/// the segment holding byte `len` is truncated there and becomes the active
/// one, later segments go. For a log nobody writes any more (a run's end
/// marker cut off its output).
pub fn truncate(path: &Path, len: u64) -> io::Result<()> {
    let set_len = |file: &Path, local: u64| -> io::Result<()> {
        let f = OpenOptions::new().write(true).open(file)?;
        if f.metadata()?.len() > local {
            f.set_len(local)?;
        }
        Ok(())
    };
    if let Head::Plain = head(path)? {
        return set_len(path, len);
    }
    let found = segments(path)?;
    let Some(keep) = found.iter().rposition(|s| s.start <= len) else {
        return Ok(());
    };
    for later in &found[keep + 1..] {
        match std::fs::remove_file(&later.path) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    let segment = &found[keep];
    set_len(&segment.path, len - segment.start)?;
    link_to(path, segment.start)
}

/// The log's bytes from `from` to its end, at most the last `max` of them,
/// skipping what retention dropped. For bounded reads (a run's tail, its
/// answer).
pub fn read_from(path: &Path, from: u64, max: u64) -> io::Result<Vec<u8>> {
    let mut reader = LogReader::new(path);
    let end = reader.len()?;
    let mut pos = from.max(end.saturating_sub(max));
    let mut out = Vec::with_capacity((end.saturating_sub(pos)).min(1 << 20) as usize);
    while pos < end {
        match reader.read_at(pos, (end - pos).min(1 << 20) as usize)? {
            Chunk::Bytes(bytes) if bytes.is_empty() => break,
            Chunk::Bytes(bytes) => {
                pos += bytes.len() as u64;
                out.extend_from_slice(&bytes);
            }
            Chunk::Dropped { to } => pos = to,
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits(max_size: u64, keep: Option<u32>) -> Limits {
        Limits { max_size, keep }
    }

    /// Everything the log still holds from `from`, and what was dropped.
    fn read_all(path: &Path, from: u64) -> (Vec<u8>, u64) {
        let mut reader = LogReader::new(path);
        let end = reader.len().unwrap();
        let (mut pos, mut out, mut dropped) = (from, Vec::new(), 0);
        while pos < end {
            match reader.read_at(pos, 7).unwrap() {
                Chunk::Bytes(b) => {
                    assert!(!b.is_empty(), "no bytes at {pos} of {end}");
                    pos += b.len() as u64;
                    out.extend(b);
                }
                Chunk::Dropped { to } => {
                    dropped += to - pos;
                    pos = to;
                }
            }
        }
        (out, dropped)
    }

    fn pattern(n: usize) -> Vec<u8> {
        (0..n).map(|i| (i % 251) as u8).collect()
    }

    #[test]
    fn a_log_under_its_limit_is_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.out.log");
        let mut w = RollingWriter::open(&path, limits(100, None)).unwrap();
        w.append(b"hello ").unwrap();
        w.append(b"world").unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), b"hello world");
        assert!(segments(&path).unwrap().is_empty());
        assert_eq!(global_len(&path).unwrap(), 11);
    }

    #[test]
    fn writes_fill_each_segment_to_the_limit_and_offsets_stay_global() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.out.log");
        let data = pattern(1000);
        let mut w = RollingWriter::open(&path, limits(64, None)).unwrap();
        for piece in data.chunks(37) {
            w.append(piece).unwrap();
        }
        assert_eq!(w.len(), 1000);
        let found = segments(&path).unwrap();
        assert_eq!(
            found.len(),
            16,
            "1000 bytes = 15 full segments of 64 and 40"
        );
        for (i, s) in found.iter().enumerate() {
            let len = if i == 15 { 40 } else { 64 };
            assert_eq!((s.start, s.len), (i as u64 * 64, len));
            assert_eq!(s.path, segment_path(&path, s.start));
        }
        assert_eq!(
            std::fs::read_link(&path).unwrap(),
            Path::new("s.out.log.960"),
            "the log's name links to its active segment"
        );
        assert_eq!(std::fs::read(&path).unwrap(), &data[960..]);
        assert_eq!(read_all(&path, 0), (data.clone(), 0));
        assert_eq!(read_all(&path, 500), (data[500..].to_vec(), 0));
        assert_eq!(global_len(&path).unwrap(), 1000);
    }

    #[test]
    fn a_log_ending_at_its_limit_rolls_only_with_the_next_byte() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.out.log");
        let mut w = RollingWriter::open(&path, limits(10, None)).unwrap();
        w.append(&[b'a'; 10]).unwrap();
        assert!(segments(&path).unwrap().is_empty());
        w.append(b"b").unwrap();
        let starts: Vec<u64> = segments(&path).unwrap().iter().map(|s| s.start).collect();
        assert_eq!(starts, [0, 10]);
        assert_eq!(std::fs::read(&path).unwrap(), b"b");
    }

    #[test]
    fn retention_keeps_the_newest_segments_and_readers_hear_of_the_rest() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.out.log");
        let data = pattern(1000);
        let mut w = RollingWriter::open(&path, limits(100, Some(2))).unwrap();
        w.append(&data).unwrap();
        let starts: Vec<u64> = segments(&path).unwrap().iter().map(|s| s.start).collect();
        assert_eq!(starts, [700, 800, 900], "two finished, and the active one");
        let (kept, dropped) = read_all(&path, 0);
        assert_eq!(dropped, 700);
        assert_eq!(kept, &data[700..]);
        let mut reader = LogReader::new(&path);
        assert_eq!(reader.first_kept().unwrap(), 700);
        assert_eq!(reader.read_at(10, 5).unwrap(), Chunk::Dropped { to: 700 });
        assert_eq!(read_from(&path, 0, u64::MAX).unwrap(), &data[700..]);
        assert_eq!(read_from(&path, 0, 50).unwrap(), &data[950..]);
    }

    #[test]
    fn a_reader_follows_the_log_across_roll_overs_as_they_happen() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.out.log");
        let data = pattern(5000);
        let mut w = RollingWriter::open(&path, limits(128, Some(3))).unwrap();
        let mut reader = LogReader::new(&path);
        let (mut pos, mut got) = (0u64, Vec::new());
        for piece in data.chunks(50) {
            w.append(piece).unwrap();
            // A reader that keeps up sees every byte once, in order.
            loop {
                let len = reader.len().unwrap();
                if pos >= len {
                    break;
                }
                match reader.read_at(pos, 33).unwrap() {
                    Chunk::Bytes(b) => {
                        assert!(!b.is_empty(), "stuck at {pos} of {len}");
                        pos += b.len() as u64;
                        got.extend(b);
                    }
                    Chunk::Dropped { to } => panic!("a reader that keeps up lost {pos}..{to}"),
                }
            }
        }
        assert_eq!(got, data);
    }

    #[test]
    fn a_reader_in_another_thread_gets_every_byte_once_while_the_writer_rolls() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.out.log");
        let data = pattern(2_000_000);
        let writer = {
            let (path, data) = (path.clone(), data.clone());
            std::thread::spawn(move || {
                let mut w = RollingWriter::open(&path, limits(4096, None)).unwrap();
                for piece in data.chunks(977) {
                    w.append(piece).unwrap();
                }
            })
        };
        let mut reader = LogReader::new(&path);
        let (mut pos, mut got) = (0u64, Vec::new());
        while pos < data.len() as u64 {
            match reader.read_at(pos, 3000).unwrap() {
                Chunk::Bytes(b) if b.is_empty() => std::thread::yield_now(),
                Chunk::Bytes(b) => {
                    pos += b.len() as u64;
                    got.extend(b);
                }
                Chunk::Dropped { to } => {
                    panic!("nothing is dropped without retention: {pos}..{to}")
                }
            }
        }
        writer.join().unwrap();
        assert_eq!(reader.len().unwrap(), data.len() as u64);
        assert!(got == data, "the bytes read differ from the bytes written");
    }

    #[test]
    fn a_writer_that_died_at_any_step_of_a_roll_over_is_repaired_by_the_next_open() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.out.log");
        let data = pattern(400);
        let limits = limits(100, Some(1));
        // Died in the first roll-over, after the plain file became segment 0.
        std::fs::write(&path, &data[..100]).unwrap();
        std::fs::rename(&path, segment_path(&path, 0)).unwrap();
        assert_eq!(
            global_len(&path).unwrap(),
            100,
            "readers see the log end there"
        );
        let mut w = RollingWriter::open(&path, limits).unwrap();
        assert_eq!(w.len(), 100);
        w.append(&data[100..250]).unwrap();
        drop(w);
        assert_eq!(
            std::fs::read_link(&path).unwrap(),
            Path::new("s.out.log.200")
        );
        // Died after making the next segment, before linking it.
        std::fs::write(segment_path(&path, 250), b"").unwrap();
        // And before retention: an old segment too many.
        std::fs::write(segment_path(&path, 0), &data[..100]).unwrap();
        assert_eq!(global_len(&path).unwrap(), 250);
        let mut w = RollingWriter::open(&path, limits).unwrap();
        assert_eq!(w.len(), 250);
        assert_eq!(
            std::fs::read_link(&path).unwrap(),
            Path::new("s.out.log.250")
        );
        w.append(&data[250..]).unwrap();
        let starts: Vec<u64> = segments(&path).unwrap().iter().map(|s| s.start).collect();
        assert_eq!(
            starts,
            [250, 350],
            "retention finished on open and on the roll-over"
        );
        assert_eq!(read_all(&path, 0), (data[250..].to_vec(), 250));
    }

    #[test]
    fn a_plain_log_of_an_earlier_baton_goes_on_where_it_ended() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.out.log");
        let data = pattern(300);
        std::fs::write(&path, &data[..120]).unwrap();
        let mut w = RollingWriter::open(&path, limits(100, None)).unwrap();
        assert_eq!(
            w.len(),
            120,
            "a file past the limit rolls with the next byte"
        );
        w.append(&data[120..]).unwrap();
        let found: Vec<(u64, u64)> = segments(&path)
            .unwrap()
            .iter()
            .map(|s| (s.start, s.len))
            .collect();
        assert_eq!(found, [(0, 120), (120, 100), (220, 80)]);
        assert_eq!(read_all(&path, 0), (data, 0));
    }

    #[test]
    fn a_log_cut_back_loses_what_follows_across_segments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.out.log");
        let data = pattern(350);
        let mut w = RollingWriter::open(&path, limits(100, None)).unwrap();
        w.append(&data).unwrap();
        drop(w);
        truncate(&path, 180).unwrap();
        assert_eq!(global_len(&path).unwrap(), 180);
        assert_eq!(read_all(&path, 0), (data[..180].to_vec(), 0));
        assert_eq!(
            std::fs::read_link(&path).unwrap(),
            Path::new("s.out.log.100")
        );
        let mut w = RollingWriter::open(&path, limits(100, None)).unwrap();
        w.append(b"next").unwrap();
        let mut want = data[..180].to_vec();
        want.extend_from_slice(b"next");
        assert_eq!(read_all(&path, 0), (want, 0));
        // A log that never rolled is cut like a file.
        let plain = dir.path().join("p.out.log");
        std::fs::write(&plain, b"abcdef").unwrap();
        truncate(&plain, 4).unwrap();
        assert_eq!(std::fs::read(&plain).unwrap(), b"abcd");
    }

    #[test]
    fn a_pipe_spliced_into_the_log_rolls_it_over_like_writes() {
        use std::io::Write;
        use std::os::fd::AsFd;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.out.log");
        let data = pattern(300_000);
        let (read, mut write) = std::io::pipe().unwrap();
        let feeder = {
            let data = data.clone();
            std::thread::spawn(move || {
                for piece in data.chunks(7_777) {
                    write.write_all(piece).unwrap();
                }
            })
        };
        let mut w = RollingWriter::open(&path, limits(65_536, None)).unwrap();
        loop {
            match w.splice_from(read.as_fd(), 1 << 20).unwrap() {
                0 => break,
                _ => continue,
            }
        }
        feeder.join().unwrap();
        assert_eq!(w.len(), 300_000);
        // 4 full segments and the rest; none empty, also where the pipe
        // ended right at a full segment (below).
        let found = segments(&path).unwrap();
        assert_eq!(found.len(), 5);
        assert!(found.iter().all(|s| s.len <= 65_536));
        assert_eq!(read_all(&path, 0), (data, 0));
        let exact = dir.path().join("x.out.log");
        let (read, mut write) = std::io::pipe().unwrap();
        write.write_all(&pattern(65_536)).unwrap();
        drop(write);
        let mut w = RollingWriter::open(&exact, limits(65_536, None)).unwrap();
        while w.splice_from(read.as_fd(), 1 << 20).unwrap() > 0 {}
        assert!(
            segments(&exact).unwrap().is_empty(),
            "no roll-over for no byte"
        );
    }

    #[test]
    fn an_unbounded_log_never_rolls() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.out.log");
        let mut w = RollingWriter::open(&path, Limits::UNBOUNDED).unwrap();
        w.append(&pattern(100_000)).unwrap();
        assert!(segments(&path).unwrap().is_empty());
        assert_eq!(std::fs::metadata(&path).unwrap().len(), 100_000);
    }

    #[test]
    fn only_numbered_files_of_the_same_log_are_its_segments() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("s.out.log");
        for name in [
            "s.out.log.piped",
            "s.out.log.link",
            "s.out.log.",
            "s.out.log.12x",
            "s.out.log.out.log.5",
            "t.out.log.0",
            "s.err.log.0",
        ] {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        std::fs::write(dir.path().join("s.out.log.7"), b"abc").unwrap();
        let found = segments(&path).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].start, found[0].len), (7, 3));
    }
}
