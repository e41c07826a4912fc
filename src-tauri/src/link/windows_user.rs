//! Who a process runs as, on Windows, for the windows' link: named pipes live in one
//! machine-wide namespace, so the tray's pipe admits only its own user (a DACL naming the
//! user's SID) and each end checks that the process at the other end runs as that same user.
//! See `docs/link-windows.md`.

use std::io;

use interprocess::os::windows::security_descriptor::SecurityDescriptor;
use widestring::{U16CStr, U16CString};
use windows_sys::Win32::Foundation::{CloseHandle, LocalFree, HANDLE};
use windows_sys::Win32::Security::Authorization::ConvertSidToStringSidW;
use windows_sys::Win32::Security::{GetTokenInformation, TokenUser, TOKEN_QUERY, TOKEN_USER};
use windows_sys::Win32::System::Threading::{
    GetCurrentProcess, OpenProcess, OpenProcessToken, PROCESS_QUERY_LIMITED_INFORMATION,
};

/// A handle closed when dropped.
struct Owned(HANDLE);

impl Drop for Owned {
    fn drop(&mut self) {
        // SAFETY: the handle was opened by this module and is closed once.
        unsafe { CloseHandle(self.0) };
    }
}

/// The SID (`S-1-5-21-…`) of the user this process runs as.
pub fn current_user() -> io::Result<String> {
    // SAFETY: the pseudo-handle of the current process needs no closing and is always valid.
    unsafe { user_of(GetCurrentProcess()) }
}

/// The SID of the user process `pid` runs as. A process that cannot be opened (gone, or
/// another user's, protected) is an error: the caller refuses the peer.
pub fn user_of_process(pid: u32) -> io::Result<String> {
    // SAFETY: OpenProcess returns a handle we own or null.
    let process = unsafe { OpenProcess(PROCESS_QUERY_LIMITED_INFORMATION, 0, pid) };
    if process.is_null() {
        return Err(io::Error::last_os_error());
    }
    let process = Owned(process);
    // SAFETY: a valid process handle, open for the query.
    unsafe { user_of(process.0) }
}

/// Whether process `pid` runs as this process's user; anything unknown is "no".
pub fn is_this_user(pid: u32) -> bool {
    match (current_user(), user_of_process(pid)) {
        (Ok(me), Ok(them)) => me == them,
        _ => false,
    }
}

/// A security descriptor whose protected DACL grants this user everything and nobody else
/// anything — not `Everyone`, not other local users, unlike a pipe's default DACL.
pub fn only_this_user() -> io::Result<SecurityDescriptor> {
    let sddl = U16CString::from_str(format!("D:P(A;;GA;;;{})", current_user()?))
        .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
    SecurityDescriptor::deserialize(&sddl)
}

/// # Safety
/// `process` is a valid process handle with query access.
unsafe fn user_of(process: HANDLE) -> io::Result<String> {
    let mut token: HANDLE = std::ptr::null_mut();
    if unsafe { OpenProcessToken(process, TOKEN_QUERY, &mut token) } == 0 {
        return Err(io::Error::last_os_error());
    }
    let token = Owned(token);
    let mut len = 0u32;
    // The first call only says how large TOKEN_USER and its SID are.
    unsafe { GetTokenInformation(token.0, TokenUser, std::ptr::null_mut(), 0, &mut len) };
    // u64s: the buffer must be aligned for TOKEN_USER's pointer.
    let mut buffer = vec![0u64; (len as usize).div_ceil(8).max(1)];
    if unsafe { GetTokenInformation(token.0, TokenUser, buffer.as_mut_ptr().cast(), len, &mut len) }
        == 0
    {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: GetTokenInformation filled the buffer with a TOKEN_USER.
    let user = unsafe { &*(buffer.as_ptr() as *const TOKEN_USER) };
    let mut text: *mut u16 = std::ptr::null_mut();
    if unsafe { ConvertSidToStringSidW(user.User.Sid, &mut text) } == 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: a NUL-terminated string allocated by the call above, freed once with LocalFree.
    let sid = unsafe { U16CStr::from_ptr_str(text) }.to_string_lossy();
    unsafe { LocalFree(text.cast()) };
    Ok(sid)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_runs_as_its_own_user_and_a_gone_one_as_nobody() {
        let me = current_user().unwrap();
        assert!(me.starts_with("S-1-5-"), "{me}");
        assert!(is_this_user(std::process::id()));
        // Process ids are multiples of 4 on Windows: 3 is nobody's, and nobody is not us.
        assert!(!is_this_user(3));
    }
}
