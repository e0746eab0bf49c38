//! Writing pages: templates, redirects with a flash message, error pages,
//! security headers and the static files.

use askama::Template;
use warp::http::{header, HeaderMap, HeaderValue, StatusCode};
use warp::reply::Response;

use super::PageError;
use super::PageResult;
use crate::error::ApiError;
use crate::web::auth;
use crate::web::input::{ActionError, FieldErrors};
use crate::web::templates::{ErrorPage, Layout};

pub(super) const FLASH_COOKIE: &str = "fd_flash";

/// The flash message set by the previous redirect, if any.
pub(super) fn flash(headers: &HeaderMap) -> Option<String> {
    let raw = auth::cookie(headers, FLASH_COOKIE)?;
    let text: String = url::form_urlencoded::parse(format!("m={raw}").as_bytes())
        .find(|(k, _)| k == "m")
        .map(|(_, v)| v.into_owned())?;
    (!text.is_empty()).then_some(text)
}

/// Renders a template as a page.
pub fn render<T: Template>(page: &T) -> PageResult {
    render_status(page, StatusCode::OK)
}

/// Renders with a status other than 200 (a form shown again with errors: 400).
pub fn render_status<T: Template>(page: &T, status: StatusCode) -> PageResult {
    let html = page.render().map_err(|e| ApiError::Internal(format!("template: {e}")))?;
    let mut response = Response::new(html.into());
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    *response.status_mut() = status;
    Ok(response)
}

/// 200 for a page, 400 for a form shown again with errors.
pub fn status_for(errors: &FieldErrors) -> StatusCode {
    if errors.is_empty() {
        StatusCode::OK
    } else {
        StatusCode::BAD_REQUEST
    }
}

pub fn redirect(location: &str) -> Response {
    let mut response = Response::new(Default::default());
    *response.status_mut() = StatusCode::SEE_OTHER;
    if let Ok(v) = HeaderValue::from_str(location) {
        response.headers_mut().insert(header::LOCATION, v);
    }
    response
}

/// A redirect that shows `message` on the next page.
pub fn redirect_with(location: &str, message: &str) -> Response {
    let mut response = redirect(location);
    let cookie = format!("{FLASH_COOKIE}={}; Path=/; HttpOnly; SameSite=Lax; Max-Age=60", urlencode(message));
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// Bad input shows the form again (400); anything else is an error page.
pub fn form_error(e: ActionError) -> Result<FieldErrors, PageError> {
    match e {
        ActionError::Fields(f) => Ok(f),
        ActionError::Api(e) => Err(PageError::Api(e)),
    }
}

pub(super) fn error_page(e: &ApiError) -> Response {
    if let ApiError::Internal(detail) | ApiError::Unavailable(detail) = e {
        tracing::error!(error = %detail, "page failed");
    }
    let (heading, upgrade) = match e {
        ApiError::NotFound(_) => ("Not found", None),
        ApiError::PlanRequired(p) => {
            ("Not on your plan", Some(format!("This needs the {} plan.", p.required)))
        }
        ApiError::Forbidden(_) | ApiError::Unauthorized(_) => ("Not allowed", None),
        ApiError::BadRequest(_) => ("That did not work", None),
        ApiError::Conflict(_) => ("Already done", None),
        ApiError::TooManyRequests(_) | ApiError::Busy(_) => ("Slow down", None),
        ApiError::TooLarge(_) | ApiError::RequestTimeout(_) => ("That did not work", None),
        ApiError::Unavailable(_) | ApiError::Internal(_) => ("Something went wrong", None),
    };
    let message = match e {
        ApiError::Internal(_) => {
            "Something went wrong on our side; it has been logged. Please try again.".to_string()
        }
        other => other.to_string(),
    };
    let page = ErrorPage {
        l: Layout { title: heading.to_string(), ..Layout::default() },
        heading: heading.into(),
        message,
        upgrade,
    };
    let mut response = match page.render() {
        Ok(html) => Response::new(html.into()),
        Err(_) => Response::new(e.to_string().into()),
    };
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    *response.status_mut() = e.status();
    response
}

/// CSP without inline script, no framing, no referrer leaks, and no caching
/// of pages that show a business's data.
pub(super) fn security_headers(headers: &mut HeaderMap, private: bool) {
    let set = |headers: &mut HeaderMap, name: &'static str, value: &'static str| {
        headers.insert(name, HeaderValue::from_static(value));
    };
    // The widget preview injects its own <style>, hence 'unsafe-inline' for styles only.
    set(
        headers,
        "content-security-policy",
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
         connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'; object-src 'none'",
    );
    set(headers, "x-frame-options", "DENY");
    set(headers, "x-content-type-options", "nosniff");
    set(headers, "referrer-policy", "same-origin");
    if private {
        set(headers, "cache-control", "no-store");
    }
}

pub(super) fn static_file(name: &str) -> Response {
    let (path, kind) = match name {
        "app.css" => ("static/app.css", "text/css; charset=utf-8"),
        "app.js" => ("static/app.js", "application/javascript; charset=utf-8"),
        _ => return error_404(),
    };
    match crate::assets::ASSETS.get_file(path) {
        Some(file) => {
            let mut response = Response::new(file.contents().to_vec().into());
            let headers = response.headers_mut();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(kind));
            headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=300"));
            response
        }
        None => error_404(),
    }
}

fn error_404() -> Response {
    let mut response = Response::new("not found".into());
    *response.status_mut() = StatusCode::NOT_FOUND;
    response
}

/// A UTC timestamp in the business's zone, as the owner reads it.
pub fn local_time(t: chrono::DateTime<chrono::Utc>, tz: chrono_tz::Tz) -> String {
    t.with_timezone(&tz).format("%b %-d, %H:%M").to_string()
}

pub(super) fn urlencode(s: &str) -> String {
    url::form_urlencoded::byte_serialize(s.as_bytes()).collect()
}
