//! Who may use `baton web`.
//!
//! One random token per start (or `BATON_WEB_TOKEN`). A request carries it
//! as `Authorization: Bearer TOKEN` (scripts), or as the session cookie the
//! token URL sets (the browser: `HttpOnly`, `SameSite=Strict`). A request
//! that changes something (send, kill) with the cookie alone must also
//! carry the page's CSRF token in `X-Baton-Csrf` and come from the page's
//! own origin: a cookie sent along by another site's form or script gets
//! 403. Tokens are compared in constant time.

use axum::http::{HeaderMap, Method, StatusCode, header};

/// The cookie that carries the token in a browser.
pub const COOKIE: &str = "baton_web";

/// The header a page request that changes something carries its CSRF
/// token in.
pub const CSRF_HEADER: &str = "x-baton-csrf";

/// The tokens of this start.
pub struct Access {
    token: String,
    csrf: String,
}

/// Why a request was refused.
#[derive(Debug, PartialEq, Eq)]
pub struct Refused {
    pub status: StatusCode,
    pub message: &'static str,
}

impl Access {
    pub fn new(token: String, csrf: String) -> Access {
        Access { token, csrf }
    }

    pub fn token(&self) -> &str {
        &self.token
    }

    pub fn csrf(&self) -> &str {
        &self.csrf
    }

    /// Whether `given` is the token.
    pub fn is_token(&self, given: &str) -> bool {
        same(given.as_bytes(), self.token.as_bytes())
    }

    /// Lets the request through, or says why not. A change with the cookie
    /// alone must come from the origin of the request's own `Host`: ours.
    pub fn check(&self, method: &Method, headers: &HeaderMap) -> Result<(), Refused> {
        if let Some(bearer) = bearer(headers) {
            return if self.is_token(bearer) {
                Ok(())
            } else {
                Err(Refused {
                    status: StatusCode::UNAUTHORIZED,
                    message: "the bearer token is not this baton web's",
                })
            };
        }
        let Some(cookie) = cookie(headers) else {
            return Err(Refused {
                status: StatusCode::UNAUTHORIZED,
                message: "no access token: open the URL baton web printed, or send `Authorization: Bearer TOKEN`",
            });
        };
        if !self.is_token(cookie) {
            return Err(Refused {
                status: StatusCode::UNAUTHORIZED,
                message: "the session cookie is not this baton web's (it was restarted?): open the URL it printed",
            });
        }
        if matches!(*method, Method::GET | Method::HEAD) {
            return Ok(());
        }
        // A change with the cookie alone: from our own page only.
        let own = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .map(|host| format!("http://{host}"));
        let origin = headers.get(header::ORIGIN).and_then(|o| o.to_str().ok());
        if own.is_none() || origin != own.as_deref() {
            return Err(Refused {
                status: StatusCode::FORBIDDEN,
                message: "refused: a change with the session cookie must come from baton web's own page (Origin)",
            });
        }
        let csrf = headers.get(CSRF_HEADER).and_then(|c| c.to_str().ok());
        if !csrf.is_some_and(|c| same(c.as_bytes(), self.csrf.as_bytes())) {
            return Err(Refused {
                status: StatusCode::FORBIDDEN,
                message: "refused: a change with the session cookie needs the page's CSRF token",
            });
        }
        Ok(())
    }
}

/// The token of `Authorization: Bearer TOKEN`.
fn bearer(headers: &HeaderMap) -> Option<&str> {
    headers
        .get(header::AUTHORIZATION)?
        .to_str()
        .ok()?
        .strip_prefix("Bearer ")
        .map(str::trim)
}

/// The value of our cookie.
fn cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == COOKIE)
        .map(|(_, value)| value)
}

/// Equal bytes, in a time that depends only on the lengths.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 32 random bytes from the kernel, as hex.
pub fn random_token() -> std::io::Result<String> {
    use std::io::Read;
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")?.read_exact(&mut bytes)?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// A token given in `BATON_WEB_TOKEN`: long enough, and safe in a URL and
/// a cookie.
pub fn check_given_token(token: &str) -> Result<(), &'static str> {
    if token.len() < 16 {
        return Err("the token must be at least 16 characters");
    }
    if !token
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
    {
        return Err("the token may hold only ASCII letters, digits, `-` and `_`");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn access() -> Access {
        Access::new("t0k3n-for-the-tests".into(), "csrf-of-the-page".into())
    }

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn a_bearer_token_opens_everything_and_a_wrong_one_nothing() {
        let a = access();
        let good = headers(&[("authorization", "Bearer t0k3n-for-the-tests")]);
        assert_eq!(a.check(&Method::POST, &good), Ok(()));
        let bad = headers(&[("authorization", "Bearer t0k3n-for-the-testz")]);
        assert_eq!(
            a.check(&Method::GET, &bad).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            a.check(&Method::GET, &HeaderMap::new()).unwrap_err().status,
            StatusCode::UNAUTHORIZED
        );
    }

    #[test]
    fn a_cookie_reads_but_changes_only_from_the_page_with_its_csrf_token() {
        let a = access();
        let cookie = ("cookie", "other=1; baton_web=t0k3n-for-the-tests");
        assert_eq!(a.check(&Method::GET, &headers(&[cookie])), Ok(()));
        let from_page = headers(&[
            cookie,
            ("host", "127.0.0.1:7777"),
            ("origin", "http://127.0.0.1:7777"),
            ("x-baton-csrf", "csrf-of-the-page"),
        ]);
        assert_eq!(a.check(&Method::POST, &from_page), Ok(()));
        for refused in [
            // Another site's form: its origin.
            headers(&[
                cookie,
                ("host", "127.0.0.1:7777"),
                ("origin", "http://evil.example"),
                ("x-baton-csrf", "csrf-of-the-page"),
            ]),
            // No origin at all.
            headers(&[
                cookie,
                ("host", "127.0.0.1:7777"),
                ("x-baton-csrf", "csrf-of-the-page"),
            ]),
            // The right origin without the CSRF token.
            headers(&[
                cookie,
                ("host", "127.0.0.1:7777"),
                ("origin", "http://127.0.0.1:7777"),
            ]),
        ] {
            assert_eq!(
                a.check(&Method::POST, &refused).unwrap_err().status,
                StatusCode::FORBIDDEN
            );
        }
    }

    #[test]
    fn comparison_is_exact() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"abcd"));
        assert_eq!(random_token().unwrap().len(), 64);
        assert!(check_given_token("short").is_err());
        assert!(check_given_token("a-token-with space").is_err());
        assert!(check_given_token("a_fine-token_of_20ch").is_ok());
    }
}
