//! Plumbing shared by every export: panic guards, NULL-checked pointer access, argument
//! decoding, handle boxing and the per-thread error detail.

use crate::result::portcullis_result as R;
use std::cell::RefCell;
use std::ffi::c_char;
use std::panic::{AssertUnwindSafe, catch_unwind};

thread_local! {
    /// The detail of the last failed call on this thread.
    static LAST_ERROR: RefCell<String> = const { RefCell::new(String::new()) };
}

/// A failed call: its code and, when there is more to say than the code's static message,
/// a detail (never containing a secret).
#[derive(Debug)]
pub(crate) struct Failure {
    pub(crate) code: R,
    pub(crate) detail: Option<String>,
}

impl From<R> for Failure {
    fn from(code: R) -> Self {
        Failure { code, detail: None }
    }
}

impl Failure {
    /// A failure with a detail.
    pub(crate) fn new(code: R, detail: impl Into<String>) -> Self {
        Failure {
            code,
            detail: Some(detail.into()),
        }
    }
}

/// What the internal bodies of exports return.
pub(crate) type FfiResult<T> = Result<T, Failure>;

/// Runs the body of an export that returns a result code: catches panics, records the
/// detail of a failure for `portcullis_last_error`. Not inlined: one out-of-line instance
/// per export keeps the library smaller (benches/OPTIMISATIONS.md).
#[inline(never)]
pub(crate) fn guard(body: impl FnOnce() -> FfiResult<()>) -> R {
    guarded(body)
}

/// [`guard`] for the per-request check calls, always inlined into its export to save the
/// call and its spilled arguments (benches/OPTIMISATIONS.md); only there, for code size.
#[inline(always)]
pub(crate) fn hot_guard(body: impl FnOnce() -> FfiResult<()>) -> R {
    guarded(body)
}

/// The body of [`guard`] and [`hot_guard`].
#[inline(always)]
fn guarded(body: impl FnOnce() -> FfiResult<()>) -> R {
    let result = catch_unwind(AssertUnwindSafe(body)).unwrap_or_else(|_| {
        Err(Failure::new(
            R::PORTCULLIS_PANIC,
            "internal error: a panic was caught at the C boundary",
        ))
    });
    match result {
        Ok(()) => R::PORTCULLIS_OK,
        Err(failure) if failure.code == R::PORTCULLIS_BUFFER_TOO_SMALL => failure.code,
        Err(failure) => {
            let detail = failure
                .detail
                .unwrap_or_else(|| message(failure.code).to_owned());
            // `try_with`: during thread teardown the slot may be gone; the code still stands.
            let _ = LAST_ERROR.try_with(|e| *e.borrow_mut() = detail);
            failure.code
        }
    }
}

/// Runs the body of an accessor that returns a value: a panic gives `default`.
pub(crate) fn guard_value<T>(default: T, body: impl FnOnce() -> Option<T>) -> T {
    catch_unwind(AssertUnwindSafe(body))
        .ok()
        .flatten()
        .unwrap_or(default)
}

/// The static message of a code, as a Rust string.
fn message(code: R) -> &'static str {
    code.texts().0.to_str().unwrap_or("")
}

/// The detail of the last failure on this thread.
pub(crate) fn last_error() -> String {
    LAST_ERROR
        .try_with(|e| e.borrow().clone())
        .unwrap_or_default()
}

/// Borrows the object behind a handle pointer.
///
/// # Safety
/// `p` is NULL or points to a live `T` that nobody mutates during `'a`.
pub(crate) unsafe fn borrow<'a, T>(p: *const T) -> FfiResult<&'a T> {
    // SAFETY: the caller guarantees `p` is NULL or valid for `'a`; NULL is checked here.
    unsafe { p.as_ref() }.ok_or_else(|| R::PORTCULLIS_NULL_PARAMETER.into())
}

/// Reads the object behind a handle through `f`, for the accessors that return a value
/// rather than a result code: `default` for NULL, for a panic and when `f` gives `None`
/// (`f` returns the value itself or an `Option` of it).
///
/// # Safety
/// `p` is NULL or points to a live `T` that nobody mutates during the call.
pub(crate) unsafe fn read<T, V, O: Into<Option<V>>>(
    p: *const T,
    default: V,
    f: impl FnOnce(&T) -> O,
) -> V {
    guard_value(default, || {
        // SAFETY: NULL or live (caller's contract); `borrow` turns NULL into `None` here.
        f(unsafe { borrow(p) }.ok()?).into()
    })
}

/// Borrows the object behind a handle pointer mutably.
///
/// # Safety
/// `p` is NULL or points to a live `T` that nobody else uses during `'a`.
pub(crate) unsafe fn borrow_mut<'a, T>(p: *mut T) -> FfiResult<&'a mut T> {
    // SAFETY: as for `borrow`, with exclusive access guaranteed by the caller.
    unsafe { p.as_mut() }.ok_or_else(|| R::PORTCULLIS_NULL_PARAMETER.into())
}

/// Borrows `len` bytes at `p`. NULL is refused even with `len == 0`; a length over
/// `isize::MAX` cannot describe an object and is refused before touching memory.
///
/// # Safety
/// When non-NULL and `len <= isize::MAX`, `p` points to `len` readable bytes for `'a`.
#[inline(always)]
pub(crate) unsafe fn bytes<'a>(p: *const c_char, len: usize) -> FfiResult<&'a [u8]> {
    if p.is_null() {
        return Err(R::PORTCULLIS_NULL_PARAMETER.into());
    }
    if len > isize::MAX as usize {
        return Err(R::PORTCULLIS_INVALID_LENGTH.into());
    }
    // SAFETY: non-NULL and in range (checked above); readability is the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), len) })
}

/// Like [`bytes`], but NULL means "absent".
///
/// # Safety
/// As for [`bytes`].
pub(crate) unsafe fn optional_bytes<'a>(
    p: *const c_char,
    len: usize,
) -> FfiResult<Option<&'a [u8]>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    unsafe { bytes(p, len) }.map(Some)
}

/// Borrows UTF-8 text; other bytes give `PORTCULLIS_INVALID_UTF8`. ASCII (every method
/// and raw path) passes the core's word-wise test and is borrowed as it is; anything else
/// is validated in full by the core.
///
/// # Safety
/// As for [`bytes`].
#[inline(always)]
pub(crate) unsafe fn text<'a>(p: *const c_char, len: usize) -> FfiResult<&'a str> {
    // SAFETY: forwarded contract.
    let b = unsafe { bytes(p, len) }?;
    if core_lib::for_bindings::is_ascii(b) {
        // SAFETY: every byte is below 0x80, and ASCII is valid UTF-8.
        return Ok(unsafe { std::str::from_utf8_unchecked(b) });
    }
    core_lib::for_bindings::text(b).map_err(|_| R::PORTCULLIS_INVALID_UTF8.into())
}

/// Like [`text`], but NULL means "absent".
///
/// # Safety
/// As for [`bytes`].
pub(crate) unsafe fn optional_text<'a>(p: *const c_char, len: usize) -> FfiResult<Option<&'a str>> {
    if p.is_null() {
        return Ok(None);
    }
    // SAFETY: forwarded contract.
    unsafe { text(p, len) }.map(Some)
}

/// Borrows an array of `count` items (NULL allowed only when `count == 0`).
///
/// # Safety
/// When non-NULL, `p` points to `count` initialised items, readable for `'a`.
pub(crate) unsafe fn array<'a, T>(p: *const T, count: usize) -> FfiResult<&'a [T]> {
    if count == 0 {
        return Ok(&[]);
    }
    if p.is_null() {
        return Err(R::PORTCULLIS_NULL_PARAMETER.into());
    }
    if count > isize::MAX as usize / std::mem::size_of::<T>().max(1) {
        return Err(R::PORTCULLIS_INVALID_LENGTH.into());
    }
    // SAFETY: non-NULL, size in range, readability is the caller's contract.
    Ok(unsafe { std::slice::from_raw_parts(p, count) })
}

/// Checks that an out-parameter is non-NULL, before any work is done.
pub(crate) fn out_ptr<T>(p: *mut T) -> FfiResult<OutPtr<T>> {
    if p.is_null() {
        Err(R::PORTCULLIS_NULL_PARAMETER.into())
    } else {
        Ok(OutPtr(p))
    }
}

/// A checked, non-NULL out-parameter, written once at the end of a successful call.
pub(crate) struct OutPtr<T>(*mut T);

impl<T> OutPtr<T> {
    /// Writes the value.
    ///
    /// # Safety
    /// The pointer (non-NULL, checked) points to writable memory for a `T`.
    pub(crate) unsafe fn write(self, value: T) {
        // SAFETY: non-NULL by construction; writability is the caller's contract. `write`
        // does not drop the old (possibly uninitialised) contents.
        unsafe { self.0.write(value) }
    }
}

/// Moves a value to the heap and hands its pointer to C.
pub(crate) fn into_handle<T>(value: T) -> *mut T {
    Box::into_raw(Box::new(value))
}

/// Takes back a handle made by [`into_handle`]; NULL gives `None`.
///
/// # Safety
/// `p` is NULL or came from `into_handle::<T>` and has not been taken back yet.
pub(crate) unsafe fn take_handle<T>(p: *mut T) -> Option<Box<T>> {
    if p.is_null() {
        None
    } else {
        // SAFETY: the pointer came from `Box::into_raw` in `into_handle` (caller's contract).
        Some(unsafe { Box::from_raw(p) })
    }
}

/// Frees a handle; NULL is a no-op. Panics in destructors are contained.
///
/// # Safety
/// As for [`take_handle`].
pub(crate) unsafe fn free_handle<T>(p: *mut T) {
    let _ = catch_unwind(AssertUnwindSafe(|| {
        // SAFETY: forwarded contract.
        drop(unsafe { take_handle(p) });
    }));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn panics_become_a_result_code_with_a_detail() {
        let code = guard(|| panic!("boom"));
        assert_eq!(code, R::PORTCULLIS_PANIC);
        assert!(last_error().contains("panic was caught"));
        assert_eq!(guard_value(7u32, || panic!("boom")), 7);
        assert_eq!(guard_value(7u32, || None), 7);
        assert_eq!(guard_value(7u32, || Some(3)), 3);
    }

    #[test]
    fn failures_record_their_detail_but_buffer_too_small_keeps_it() {
        assert_eq!(
            guard(|| Err(Failure::new(R::PORTCULLIS_IO, "disk on fire"))),
            R::PORTCULLIS_IO
        );
        assert_eq!(last_error(), "disk on fire");
        assert_eq!(
            guard(|| Err(R::PORTCULLIS_BUFFER_TOO_SMALL.into())),
            R::PORTCULLIS_BUFFER_TOO_SMALL
        );
        assert_eq!(last_error(), "disk on fire");
        assert_eq!(
            guard(|| Err(R::PORTCULLIS_NULL_PARAMETER.into())),
            R::PORTCULLIS_NULL_PARAMETER
        );
        assert_eq!(last_error(), "a required pointer argument was NULL");
        assert_eq!(guard(|| Ok(())), R::PORTCULLIS_OK);
        assert_eq!(
            last_error(),
            "a required pointer argument was NULL",
            "success keeps the detail"
        );
    }

    #[test]
    fn read_gives_the_default_for_null_for_none_and_for_a_panic() {
        let value = 5u32;
        let p: *const u32 = &value;
        // SAFETY: `p` points to a live local; the others are NULL.
        unsafe {
            assert_eq!(read(p, 0, |v| *v + 1), 6);
            assert_eq!(read(p, 0, |v| Some(*v + 2)), 7);
            assert_eq!(read(p, 9, |_| None::<u32>), 9);
            assert_eq!(read(p, 9, |_| -> u32 { panic!("boom") }), 9);
            assert_eq!(read(std::ptr::null::<u32>(), 9, |v| *v), 9);
        }
    }

    #[test]
    fn impossible_lengths_are_refused_before_reading() {
        let p = c"x".as_ptr();
        // SAFETY: the length check fails before any memory is read.
        let r = unsafe { bytes(p, usize::MAX) };
        assert_eq!(
            r.map_err(|f| f.code).err(),
            Some(R::PORTCULLIS_INVALID_LENGTH)
        );
        // SAFETY: NULL is checked first.
        let r = unsafe { text(std::ptr::null(), 0) };
        assert_eq!(
            r.map_err(|f| f.code).err(),
            Some(R::PORTCULLIS_NULL_PARAMETER)
        );
        let bad = b"/v1/\xc3";
        // SAFETY: `bad` is readable for its length.
        let r = unsafe { text(bad.as_ptr().cast(), bad.len()) };
        assert_eq!(
            r.map_err(|f| f.code).err(),
            Some(R::PORTCULLIS_INVALID_UTF8)
        );
        // SAFETY: a count of zero never reads the pointer.
        let r = unsafe { array::<u64>(std::ptr::null(), 0) };
        assert_eq!(r.map(<[u64]>::len).ok(), Some(0));
    }
}
