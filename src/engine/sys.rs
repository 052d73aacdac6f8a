//! The two system calls the safe crates do not wrap for us: raising the open-file limit and
//! `IP_BIND_ADDRESS_NO_PORT`. Each `unsafe` block is one libc call on plain integers.

use std::io;
use std::os::fd::AsRawFd;

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
