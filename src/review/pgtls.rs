//! TLS to the PostgreSQL store, asked for in its URL with the parameters
//! libpq users know: `?sslmode=require&sslrootcert=/etc/lookout/db-ca.pem`.
//!
//! - no `sslmode`, or `disable`: no TLS (unlike libpq, whose default
//!   `prefer` tries TLS without checking the certificate: lookout never
//!   encrypts without checking whom it talks to);
//! - `prefer`: TLS when the server offers it, plain otherwise;
//! - `require`, `verify-ca`, `verify-full`: TLS or no connection.
//!
//! Whenever TLS is used the server's certificate is checked against the
//! system's certificate authorities (Debian's `ca-certificates`, and those
//! an administrator added there) and the PEM file `sslrootcert`, and its
//! name against the URL's host, in every mode: stricter than libpq's
//! `require` and `verify-ca`. Client certificates (`sslcert`, `sslkey`) are
//! not supported; the URL's password or the server's trust rules
//! authenticate lookout.

use std::sync::Arc;

use percent_encoding::percent_decode_str;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::CertificateDer;
use tokio_postgres_rustls::MakeRustlsConnect;

/// How to reach the store: the URL the driver is given (lookout's own
/// parameters taken out) and the TLS connector, if TLS may be used.
pub struct Target {
    pub url: String,
    pub tls: Option<MakeRustlsConnect>,
}

/// The [`Target`] of the store URL `url`. Errors name the parameter.
pub fn target(url: &str) -> Result<Target, String> {
    let (base, query) = match url.split_once('?') {
        Some((b, q)) => (b, q),
        None => (url, ""),
    };
    let mut mode = None;
    let mut root_cert = None;
    let mut kept = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        let value = percent_decode_str(value).decode_utf8_lossy().into_owned();
        match key {
            "sslmode" => mode = Some(value),
            "sslrootcert" => root_cert = Some(value),
            "sslcert" | "sslkey" | "sslpassword" | "sslcrl" | "sslcrldir" => {
                return Err(format!(
                    "`{key}` in the store URL is not supported: lookout does not present a client \
                     certificate; authenticate with a password in the URL (or $LOOKOUT_STORE)"
                ))
            }
            _ => kept.push(pair),
        }
    }
    let (driver_mode, tls) = match mode.as_deref() {
        None | Some("disable") => {
            if root_cert.is_some() {
                return Err(
                    "the store URL gives sslrootcert but no sslmode: add sslmode=require \
                            (or verify-full) to use TLS"
                        .into(),
                );
            }
            (mode.as_deref().map(|_| "disable"), None)
        }
        Some("prefer") => (Some("prefer"), Some(connector(root_cert.as_deref())?)),
        Some("require" | "verify-ca" | "verify-full") => {
            (Some("require"), Some(connector(root_cert.as_deref())?))
        }
        Some(other) => {
            return Err(format!(
                "sslmode={other} in the store URL: use disable, prefer, require, verify-ca or \
                 verify-full"
            ))
        }
    };
    if let Some(m) = driver_mode {
        kept.push(match m {
            "disable" => "sslmode=disable",
            "prefer" => "sslmode=prefer",
            _ => "sslmode=require",
        });
    }
    let url = if kept.is_empty() {
        base.to_owned()
    } else {
        format!("{base}?{}", kept.join("&"))
    };
    Ok(Target { url, tls })
}

/// A TLS connector that trusts the system's authorities and, with
/// `root_cert` (a PEM file; `system` as libpq 16 reads it means none
/// more), that file's.
fn connector(root_cert: Option<&str>) -> Result<MakeRustlsConnect, String> {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    roots.add_parsable_certificates(native.certs);
    if let Some(path) = root_cert.filter(|p| *p != "system") {
        let certs = CertificateDer::pem_file_iter(path)
            .and_then(|certs| certs.collect::<Result<Vec<_>, _>>())
            .map_err(|e| format!("sslrootcert={path}: cannot read its certificates: {e}"))?;
        if certs.is_empty() {
            return Err(format!("sslrootcert={path}: no PEM certificate in it"));
        }
        let (added, _) = roots.add_parsable_certificates(certs);
        if added == 0 {
            return Err(format!(
                "sslrootcert={path}: none of its certificates can be used"
            ));
        }
    }
    if roots.is_empty() {
        return Err(
            "TLS to the store: no certificate authority to check the server by (install \
                    Debian's ca-certificates, or give the server's CA as sslrootcert=FILE)"
                .into(),
        );
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS to the store: {e}"))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(MakeRustlsConnect::new(config))
}

/// A hint for a connection error `message`, when TLS is the likely cause.
pub fn hint(message: &str, tls: bool) -> Option<&'static str> {
    let m = message.to_ascii_lowercase();
    if !tls && (m.contains("no encryption") || m.contains("ssl") && m.contains("required")) {
        Some("the server wants TLS: add ?sslmode=require to the store URL")
    } else if tls && (m.contains("certificate") || m.contains("unknownissuer")) {
        Some(
            "the server's certificate was not accepted: give its certificate authority as \
             sslrootcert=FILE in the store URL, and use the host name the certificate names",
        )
    } else if tls && m.contains("server does not support tls") {
        Some("the server offers no TLS: enable ssl on it, or use sslmode=prefer or disable")
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_chooses_tls_and_lookouts_own_parameters_are_taken_out() {
        let plain = target("postgres://a@db/x").unwrap();
        assert!(plain.tls.is_none());
        assert_eq!(plain.url, "postgres://a@db/x");

        let off = target("postgres://a@db/x?sslmode=disable&application_name=w1").unwrap();
        assert!(off.tls.is_none());
        assert_eq!(
            off.url,
            "postgres://a@db/x?application_name=w1&sslmode=disable"
        );

        for mode in ["require", "verify-ca", "verify-full"] {
            let t = target(&format!(
                "postgres://a@db/x?sslmode={mode}&sslrootcert=system"
            ))
            .unwrap();
            assert!(t.tls.is_some(), "{mode}");
            assert_eq!(t.url, "postgres://a@db/x?sslmode=require", "{mode}");
        }
        let prefer = target("postgres://a@db/x?sslmode=prefer").unwrap();
        assert!(prefer.tls.is_some());
        assert_eq!(prefer.url, "postgres://a@db/x?sslmode=prefer");
    }

    #[test]
    fn what_cannot_be_done_is_named() {
        let e = target("postgres://a@db/x?sslmode=allow").err().unwrap();
        assert!(
            e.contains("sslmode=allow") && e.contains("verify-full"),
            "{e}"
        );
        let e = target("postgres://a@db/x?sslmode=require&sslcert=c.pem")
            .err()
            .unwrap();
        assert!(e.contains("sslcert") && e.contains("not supported"), "{e}");
        let e = target("postgres://a@db/x?sslrootcert=/ca.pem")
            .err()
            .unwrap();
        assert!(e.contains("no sslmode"), "{e}");
        let e = target("postgres://a@db/x?sslmode=require&sslrootcert=/no/such/ca.pem")
            .err()
            .unwrap();
        assert!(e.contains("sslrootcert=/no/such/ca.pem"), "{e}");
        let dir = tempfile::tempdir().unwrap();
        let empty = dir.path().join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let e = target(&format!(
            "postgres://a@db/x?sslmode=require&sslrootcert={}",
            empty.display()
        ))
        .err()
        .unwrap();
        assert!(e.contains("no PEM certificate"), "{e}");
    }
}
