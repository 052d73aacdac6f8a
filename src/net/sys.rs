//! The system calls the safe crates do not wrap for us: raising the open-file limit,
//! `IP_BIND_ADDRESS_NO_PORT`, and a `timerfd` for waking at a microsecond-precise time. Each
//! `unsafe` block is one libc call on plain integers or on a struct it owns.

use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::time::Duration;

/// Raises this process's soft RLIMIT_NOFILE to its hard limit; returns the new soft limit.
#[allow(unsafe_code)]
pub fn raise_open_file_limit() -> io::Result<u64> {
    let mut limit = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit writes one rlimit struct, which `limit` is.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    if limit.rlim_cur < limit.rlim_max {
        let raised = libc::rlimit { rlim_cur: limit.rlim_max, rlim_max: limit.rlim_max };
        // SAFETY: setrlimit reads one rlimit struct, which `raised` is.
        if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &raised) } == 0 {
            limit = raised;
        }
    }
    #[allow(clippy::unnecessary_cast)] // rlim_t is not u64 on every target
    Ok(limit.rlim_cur as u64)
}

/// Tells the kernel not to reserve a port at `bind` time, so that a socket bound to a source
/// address gets its port at `connect`, per 4-tuple: many connections to different targets can
/// share a source port, and a bound address does not cap connections at the port range.
#[allow(unsafe_code)]
pub fn set_bind_address_no_port(socket: &socket2::Socket) -> io::Result<()> {
    let one: libc::c_int = 1;
    // SAFETY: setsockopt reads `size_of::<c_int>()` bytes from `&one`, a live c_int; the fd is
    // owned by `socket` for the whole call.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_BIND_ADDRESS_NO_PORT,
            (&one as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// A non-blocking `CLOCK_MONOTONIC` timerfd (the clock `Instant` reads). `epoll_wait`'s timeout
/// is in whole milliseconds (mio rounds it up), so a worker that must wake at a due time
/// registers this in its `Poll` and sets it with nanosecond precision; it becomes readable when
/// the time comes. It is never read: `timerfd_settime` resets the expiration count, and every
/// expiry wakes epoll again (a new edge), so setting it is all a wake costs.
#[derive(Debug)]
pub struct TimerFd {
    fd: OwnedFd,
}

impl TimerFd {
    #[allow(unsafe_code)]
    pub fn new() -> io::Result<TimerFd> {
        // SAFETY: timerfd_create takes two integer arguments and returns a new descriptor or -1.
        let fd = unsafe { libc::timerfd_create(libc::CLOCK_MONOTONIC, libc::TFD_NONBLOCK | libc::TFD_CLOEXEC) };
        if fd < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `fd` was just created and nothing else owns it.
        Ok(TimerFd { fd: unsafe { OwnedFd::from_raw_fd(fd) } })
    }

    /// Fires once, `after` from now (at least 1 ns: a zero time would disarm the timer).
    #[allow(unsafe_code)]
    pub fn set_after(&self, after: Duration) -> io::Result<()> {
        let after = after.max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec { tv_sec: 0, tv_nsec: 0 },
            it_value: libc::timespec {
                tv_sec: after.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: after.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: timerfd_settime reads one itimerspec, which `spec` is; the old value is not
        // asked for (null); the fd is owned by `self` for the whole call.
        let rc = unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc == 0 {
            Ok(())
        } else {
            Err(io::Error::last_os_error())
        }
    }
}

impl AsRawFd for TimerFd {
    fn as_raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }
}
