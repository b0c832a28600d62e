//! A thin binding of Cyrus libsasl2's server API: the calls spice-server
//! makes, each wrapped so the rest of the crate stays safe. Every
//! `unsafe` of the SASL support is in this file.

use std::ffi::{c_char, c_int, c_uint, c_ulong, c_void, CStr, CString};
use std::ptr::{self, NonNull};
use std::sync::OnceLock;

/// libsasl2's `sasl_conn_t` (opaque).
#[repr(C)]
struct SaslConnT {
    _private: [u8; 0],
}

/// `sasl_security_properties_t`.
#[repr(C)]
struct SecurityProperties {
    min_ssf: c_uint,
    max_ssf: c_uint,
    maxbufsize: c_uint,
    security_flags: c_uint,
    property_names: *const *const c_char,
    property_values: *const *const c_char,
}

/// `sasl_callback_t`.
#[repr(C)]
struct Callback {
    id: c_ulong,
    proc_: *const c_void,
    context: *mut c_void,
}

const SASL_OK: c_int = 0;
const SASL_CONTINUE: c_int = 1;
const SASL_SUCCESS_DATA: c_uint = 0x0004;
const SASL_SSF: c_int = 1;
const SASL_MAXOUTBUF: c_int = 2;
const SASL_SSF_EXTERNAL: c_int = 100;
const SASL_SEC_PROPS: c_int = 101;
const SASL_CB_LIST_END: c_ulong = 0;
const SASL_CB_LOG: c_ulong = 2;
const SASL_LOG_WARN: c_int = 3;
const SASL_LOG_PASS: c_int = 7;
/// `SASL_SEC_NOPLAINTEXT | SASL_SEC_NOANONYMOUS`.
pub const SEC_NO_PLAINTEXT_NO_ANONYMOUS: u32 = 0x0001 | 0x0010;

#[link(name = "sasl2")]
extern "C" {
    fn sasl_server_init(callbacks: *const Callback, appname: *const c_char) -> c_int;
    fn sasl_server_new(
        service: *const c_char,
        server_fqdn: *const c_char,
        user_realm: *const c_char,
        iplocalport: *const c_char,
        ipremoteport: *const c_char,
        callbacks: *const Callback,
        flags: c_uint,
        pconn: *mut *mut SaslConnT,
    ) -> c_int;
    fn sasl_listmech(
        conn: *mut SaslConnT,
        user: *const c_char,
        prefix: *const c_char,
        sep: *const c_char,
        suffix: *const c_char,
        result: *mut *const c_char,
        plen: *mut c_uint,
        pcount: *mut c_int,
    ) -> c_int;
    fn sasl_server_start(
        conn: *mut SaslConnT,
        mech: *const c_char,
        clientin: *const c_char,
        clientinlen: c_uint,
        serverout: *mut *const c_char,
        serveroutlen: *mut c_uint,
    ) -> c_int;
    fn sasl_server_step(
        conn: *mut SaslConnT,
        clientin: *const c_char,
        clientinlen: c_uint,
        serverout: *mut *const c_char,
        serveroutlen: *mut c_uint,
    ) -> c_int;
    fn sasl_getprop(conn: *mut SaslConnT, propnum: c_int, pvalue: *mut *const c_void) -> c_int;
    fn sasl_setprop(conn: *mut SaslConnT, propnum: c_int, value: *const c_void) -> c_int;
    fn sasl_dispose(pconn: *mut *mut SaslConnT);
    fn sasl_encode(
        conn: *mut SaslConnT,
        input: *const c_char,
        inputlen: c_uint,
        output: *mut *const c_char,
        outputlen: *mut c_uint,
    ) -> c_int;
    fn sasl_decode(
        conn: *mut SaslConnT,
        input: *const c_char,
        inputlen: c_uint,
        output: *mut *const c_char,
        outputlen: *mut c_uint,
    ) -> c_int;
    fn sasl_errdetail(conn: *mut SaslConnT) -> *const c_char;
    fn sasl_errstring(
        err: c_int,
        langlist: *const c_char,
        outlang: *mut *const c_char,
    ) -> *const c_char;
}

/// libsasl2's log callback: its messages go to the crate's log (instead
/// of syslog), but never those of the level that may carry passwords.
extern "C" fn log_callback(_context: *mut c_void, level: c_int, message: *const c_char) -> c_int {
    if message.is_null() || level >= SASL_LOG_PASS {
        return SASL_OK;
    }
    // SAFETY: libsasl2 passes a NUL-terminated string valid for this call.
    let text = unsafe { CStr::from_ptr(message) }.to_string_lossy();
    if level <= SASL_LOG_WARN {
        red_info!("libsasl2: {text}");
    } else {
        red_debug!("libsasl2: {text}");
    }
    SASL_OK
}

/// The global callbacks: libsasl2 keeps the pointer for the process.
struct Callbacks([Callback; 2]);
// SAFETY: the table is immutable and holds a function pointer and nulls.
unsafe impl Sync for Callbacks {}

static CALLBACKS: Callbacks = Callbacks([
    Callback {
        id: SASL_CB_LOG,
        proc_: log_callback as *const c_void,
        context: ptr::null_mut(),
    },
    Callback {
        id: SASL_CB_LIST_END,
        proc_: ptr::null(),
        context: ptr::null_mut(),
    },
]);

/// The outcome of `sasl_server_init`, made once per process, with the
/// application name it was made with.
static INIT: OnceLock<(String, Result<(), String>)> = OnceLock::new();

/// Initialises libsasl2's server side once per process with `app_name`
/// (which selects `<app_name>.conf` in libsasl2's configuration path).
/// Returns the name it was initialised with (the first caller's).
pub fn server_init(app_name: &str) -> Result<&'static str, String> {
    let (name, result) = INIT.get_or_init(|| {
        let result = match CString::new(app_name) {
            Err(_) => Err("the SASL application name contains a NUL".to_string()),
            Ok(c_name) => {
                // SAFETY: CALLBACKS is a static, list-terminated table;
                // libsasl2 copies the application name.
                let err = unsafe { sasl_server_init(CALLBACKS.0.as_ptr(), c_name.as_ptr()) };
                if err == SASL_OK {
                    Ok(())
                } else {
                    Err(format!("sasl_server_init failed: {}", errstring(err)))
                }
            }
        };
        (app_name.to_string(), result)
    });
    result.clone().map(|()| name.as_str())
}

fn errstring(err: c_int) -> String {
    // SAFETY: sasl_errstring returns a static string for any code.
    let text = unsafe { sasl_errstring(err, ptr::null(), ptr::null_mut()) };
    if text.is_null() {
        return format!("error {err}");
    }
    // SAFETY: non-null and NUL-terminated, static.
    unsafe { CStr::from_ptr(text) }
        .to_string_lossy()
        .into_owned()
}

/// Where an exchange stands after a start or a step, with the server's
/// data for the client (`None`: no data).
#[derive(Debug)]
pub enum Step {
    Continue(Option<Vec<u8>>),
    Done(Option<Vec<u8>>),
}

/// One server connection context (`sasl_conn_t`), disposed on drop.
pub struct Conn(NonNull<SaslConnT>);

// SAFETY: a sasl_conn_t has no thread affinity; this owner gives one
// thread at a time access to it (`&mut self` for every call).
unsafe impl Send for Conn {}

fn cstring(text: &str) -> Result<CString, String> {
    CString::new(text).map_err(|_| format!("{text:?} contains a NUL"))
}

fn opt_ptr(text: &Option<CString>) -> *const c_char {
    text.as_ref().map_or(ptr::null(), |t| t.as_ptr())
}

impl Conn {
    /// `sasl_server_new` for `service` with the addresses as
    /// "a.b.c.d;port" (None for a Unix socket).
    pub fn new(service: &str, local: Option<&str>, remote: Option<&str>) -> Result<Conn, String> {
        let service = cstring(service)?;
        let local = local.map(cstring).transpose()?;
        let remote = remote.map(cstring).transpose()?;
        let mut raw: *mut SaslConnT = ptr::null_mut();
        // SAFETY: every string is NUL-terminated and outlives the call
        // (libsasl2 copies them); `raw` is a valid out pointer.
        let err = unsafe {
            sasl_server_new(
                service.as_ptr(),
                ptr::null(),
                ptr::null(),
                opt_ptr(&local),
                opt_ptr(&remote),
                ptr::null(),
                SASL_SUCCESS_DATA,
                &mut raw,
            )
        };
        let conn = NonNull::new(raw).map(Conn);
        if err != SASL_OK {
            return Err(format!("sasl_server_new failed: {}", errstring(err)));
        }
        conn.ok_or_else(|| "sasl_server_new gave no context".to_string())
    }

    fn detail(&mut self, err: c_int) -> String {
        // SAFETY: the context is live; the string it returns stays valid
        // until the next call on it, and is copied at once.
        let text = unsafe { sasl_errdetail(self.0.as_ptr()) };
        if text.is_null() {
            return errstring(err);
        }
        // SAFETY: non-null, NUL-terminated (see above).
        unsafe { CStr::from_ptr(text) }
            .to_string_lossy()
            .into_owned()
    }

    /// Tells libsasl2 about an encrypting transport (TLS) underneath.
    pub fn set_external_ssf(&mut self, ssf: u32) -> Result<(), String> {
        let value: c_uint = ssf;
        // SAFETY: SASL_SSF_EXTERNAL takes a pointer to a sasl_ssf_t
        // (unsigned), read during the call.
        let err = unsafe {
            sasl_setprop(
                self.0.as_ptr(),
                SASL_SSF_EXTERNAL,
                (&value as *const c_uint).cast(),
            )
        };
        if err != SASL_OK {
            return Err(format!("cannot set the external SSF: {}", self.detail(err)));
        }
        Ok(())
    }

    /// The security properties: SSF bounds, the security layer's receive
    /// buffer, and `SASL_SEC_*` flags.
    pub fn set_security(
        &mut self,
        min_ssf: u32,
        max_ssf: u32,
        maxbuf: u32,
        flags: u32,
    ) -> Result<(), String> {
        let props = SecurityProperties {
            min_ssf,
            max_ssf,
            maxbufsize: maxbuf,
            security_flags: flags,
            property_names: ptr::null(),
            property_values: ptr::null(),
        };
        // SAFETY: SASL_SEC_PROPS takes a pointer to the struct, copied
        // during the call.
        let err = unsafe {
            sasl_setprop(
                self.0.as_ptr(),
                SASL_SEC_PROPS,
                (&props as *const SecurityProperties).cast(),
            )
        };
        if err != SASL_OK {
            return Err(format!(
                "cannot set the security properties: {}",
                self.detail(err)
            ));
        }
        Ok(())
    }

    /// The mechanisms on offer, as ",A,B," (spice-server's form).
    pub fn list_mechanisms(&mut self) -> Result<String, String> {
        let comma = c",";
        let mut result: *const c_char = ptr::null();
        // SAFETY: the separators are static C strings; `result` is an out
        // pointer to a string libsasl2 owns until the next call, copied at
        // once.
        let err = unsafe {
            sasl_listmech(
                self.0.as_ptr(),
                ptr::null(),
                comma.as_ptr(),
                comma.as_ptr(),
                comma.as_ptr(),
                &mut result,
                ptr::null_mut(),
                ptr::null_mut(),
            )
        };
        if err != SASL_OK || result.is_null() {
            return Err(format!("cannot list SASL mechanisms: {}", self.detail(err)));
        }
        // SAFETY: non-null and NUL-terminated (see above).
        Ok(unsafe { CStr::from_ptr(result) }
            .to_string_lossy()
            .into_owned())
    }

    /// `sasl_server_start` with the client's mechanism and first data.
    pub fn start(&mut self, mech: &str, clientin: Option<&[u8]>) -> Result<Step, String> {
        let mech = cstring(mech)?;
        self.exchange(Some(&mech), clientin)
    }

    /// `sasl_server_step` with the client's next data.
    pub fn step(&mut self, clientin: Option<&[u8]>) -> Result<Step, String> {
        self.exchange(None, clientin)
    }

    fn exchange(&mut self, mech: Option<&CStr>, clientin: Option<&[u8]>) -> Result<Step, String> {
        // libsasl2 wants the client data NUL-terminated, as it is on the
        // wire; NULL means no data at all.
        let input: Option<Vec<u8>> = clientin.map(|d| d.iter().copied().chain([0]).collect());
        let len = clientin.map_or(0, <[u8]>::len);
        let len = c_uint::try_from(len).map_err(|_| "SASL data too long".to_string())?;
        let input_ptr = input.as_ref().map_or(ptr::null(), |d| d.as_ptr().cast());
        let mut out: *const c_char = ptr::null();
        let mut out_len: c_uint = 0;
        // SAFETY: the context is live; `input_ptr` is null or `len` bytes
        // plus a NUL that outlive the call; the out pointers are valid. The
        // output belongs to libsasl2 until the next call and is copied
        // below.
        let err = unsafe {
            match mech {
                Some(mech) => sasl_server_start(
                    self.0.as_ptr(),
                    mech.as_ptr(),
                    input_ptr,
                    len,
                    &mut out,
                    &mut out_len,
                ),
                None => sasl_server_step(self.0.as_ptr(), input_ptr, len, &mut out, &mut out_len),
            }
        };
        if err != SASL_OK && err != SASL_CONTINUE {
            return Err(self.detail(err));
        }
        let data = if out.is_null() || out_len == 0 {
            None
        } else {
            // SAFETY: libsasl2 returned `out_len` bytes at `out`.
            Some(unsafe { std::slice::from_raw_parts(out.cast::<u8>(), out_len as usize) }.to_vec())
        };
        Ok(if err == SASL_CONTINUE {
            Step::Continue(data)
        } else {
            Step::Done(data)
        })
    }

    fn unsigned_prop(&mut self, prop: c_int) -> Result<u32, String> {
        let mut value: *const c_void = ptr::null();
        // SAFETY: SASL_SSF and SASL_MAXOUTBUF give a pointer to an
        // unsigned int owned by the context, read at once.
        let err = unsafe { sasl_getprop(self.0.as_ptr(), prop, &mut value) };
        if err != SASL_OK || value.is_null() {
            return Err(format!(
                "cannot read SASL property {prop}: {}",
                self.detail(err)
            ));
        }
        // SAFETY: see above; non-null and aligned (libsasl2's own field).
        Ok(unsafe { *value.cast::<c_uint>() })
    }

    /// The negotiated security strength factor (0: no security layer).
    pub fn ssf(&mut self) -> Result<u32, String> {
        self.unsigned_prop(SASL_SSF)
    }

    /// The most bytes one `encode` may take.
    pub fn max_outbuf(&mut self) -> Result<u32, String> {
        self.unsigned_prop(SASL_MAXOUTBUF)
    }

    /// Encodes (at most `max_outbuf` bytes) for the security layer,
    /// appending to `out`.
    pub fn encode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        self.code(true, input, out)
    }

    /// Decodes bytes received through the security layer, appending what
    /// is complete to `out` (a partial packet stays inside libsasl2).
    pub fn decode(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        self.code(false, input, out)
    }

    fn code(&mut self, encode: bool, input: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
        let len = c_uint::try_from(input.len()).map_err(|_| "buffer too long".to_string())?;
        let mut output: *const c_char = ptr::null();
        let mut output_len: c_uint = 0;
        let f = if encode { sasl_encode } else { sasl_decode };
        // SAFETY: `input` is `len` readable bytes; the output belongs to
        // libsasl2 until the next call and is copied below.
        let err = unsafe {
            f(
                self.0.as_ptr(),
                input.as_ptr().cast(),
                len,
                &mut output,
                &mut output_len,
            )
        };
        if err != SASL_OK {
            let what = if encode { "sasl_encode" } else { "sasl_decode" };
            return Err(format!("{what} failed: {}", self.detail(err)));
        }
        if !output.is_null() && output_len > 0 {
            // SAFETY: libsasl2 returned `output_len` bytes at `output`.
            out.extend_from_slice(unsafe {
                std::slice::from_raw_parts(output.cast::<u8>(), output_len as usize)
            });
        }
        Ok(())
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        let mut raw = self.0.as_ptr();
        // SAFETY: the context is live and owned here; sasl_dispose frees it
        // and nulls the pointer, which is not used again.
        unsafe { sasl_dispose(&mut raw) };
    }
}
