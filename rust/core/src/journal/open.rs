//! Opening a journal's file: a regular file only (a FIFO would block `open` until
//! a reader came, a device would swallow or refuse the data), locked exclusively
//! for as long as the journal lives (`flock`: one journal per file, across threads
//! and processes), and emptied only once the lock is held, so that a refused
//! second journal leaves the first one's file whole.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

use super::entry::Failure;

/// The journal file at `path`, created or emptied, locked.
pub(super) fn open_journal(path: &Path) -> Result<File, Failure> {
    let cannot = |error: &std::io::Error| {
        let failure = Failure::from(error);
        Failure::new(
            failure.errno,
            format!("cannot create the journal: {}", failure.message),
        )
    };
    // Refused before opening, so that no FIFO's reader sees an open and a close.
    if let Ok(meta) = std::fs::metadata(path) {
        not_regular(&meta)?;
    }
    // O_NONBLOCK: should a FIFO appear between the check and the open, the open
    // returns at once (and the check below refuses it).
    let file = OpenOptions::new()
        .write(true)
        .create(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| cannot(&e))?;
    not_regular(&file.metadata().map_err(|e| cannot(&e))?)?;
    let fd = file.as_raw_fd();
    // SAFETY: flock on a descriptor we own; no memory is passed.
    if unsafe { libc::flock(fd, libc::LOCK_EX | libc::LOCK_NB) } != 0 {
        let error = std::io::Error::last_os_error();
        if error.raw_os_error() == Some(libc::EWOULDBLOCK) {
            return Err(Failure::new(
                Some(libc::EBUSY),
                "cannot create the journal: another journal (of this process or another) \
                 is writing to this file",
            ));
        }
        return Err(cannot(&error));
    }
    // SAFETY: fcntl on a descriptor we own: clear O_NONBLOCK (a regular file never
    // blocks on it anyway; left clear for whoever inspects the descriptor).
    unsafe {
        let flags = libc::fcntl(fd, libc::F_GETFL);
        if flags >= 0 {
            libc::fcntl(fd, libc::F_SETFL, flags & !libc::O_NONBLOCK);
        }
    }
    file.set_len(0).map_err(|e| cannot(&e))?;
    Ok(file)
}

/// Refuse anything but a regular file, naming what it is.
fn not_regular(meta: &std::fs::Metadata) -> Result<(), Failure> {
    let kind = meta.file_type();
    let (errno, what) = if kind.is_file() {
        return Ok(());
    } else if kind.is_dir() {
        (libc::EISDIR, "a directory")
    } else if kind.is_fifo() {
        (libc::EINVAL, "a FIFO")
    } else if kind.is_char_device() {
        (libc::EINVAL, "a character device")
    } else if kind.is_block_device() {
        (libc::EINVAL, "a block device")
    } else if kind.is_socket() {
        (libc::EINVAL, "a socket")
    } else {
        (libc::EINVAL, "some other kind of file")
    };
    Err(Failure::new(
        Some(errno),
        format!("cannot create the journal: it is {what}; a journal must be a regular file"),
    ))
}
