//! First-run setup, signing in and out, and the password change.

use warp::http::{header, HeaderValue, StatusCode};
use warp::reply::Response;

use super::{
    check_pre_csrf, form_error, pre_csrf, redirect, redirect_with, render_status, status_for, Page,
    PageResult, Req,
};
use crate::state::AppState;
use crate::web::auth;
use crate::web::input::{FieldErrors, Input};
use crate::web::templates::{
    business_types, countries, hour_fields, timezones, Field, ForgotPage, FormParts, Layout, LoginPage,
    SetupPage, SimpleFormPage,
};

fn public_layout(title: &str, csrf: String) -> Layout {
    Layout { title: title.to_string(), csrf, ..Layout::default() }
}

fn with_cookie(mut response: Response, cookie: Option<String>) -> Response {
    if let Some(v) = cookie.and_then(|c| HeaderValue::from_str(&c).ok()) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
    response
}

/// `/`: setup on a fresh instance, else the dashboard or the login page.
pub async fn root(app: &AppState, req: &Req) -> PageResult {
    if app.store.count_users().await? == 0 {
        return Ok(redirect("/setup"));
    }
    let signed_in =
        auth::cookie(&req.headers, auth::SESSION_COOKIE).and_then(|t| auth::decode(app, t, "web"));
    Ok(redirect(if signed_in.is_some() { "/dashboard" } else { "/login" }))
}

async fn setup_page(
    app: &AppState,
    req: &Req,
    v: Input,
    errors: FieldErrors,
    status: StatusCode,
) -> PageResult {
    if app.store.count_users().await? > 0 {
        return Ok(redirect("/login"));
    }
    let (csrf, cookie) = pre_csrf(req);
    let businesses = app.store.list_businesses().await?;
    let names: Vec<String> = businesses.iter().map(|b| b.business.name.clone()).collect();
    let page = SetupPage {
        l: public_layout("Set up", csrf),
        existing: businesses.len(),
        existing_names: names.join(", "),
        v,
        errors,
        business_types: business_types(),
        countries: countries(),
        timezones: timezones(),
        days: hour_fields(),
    };
    Ok(with_cookie(render_status(&page, status)?, cookie))
}

/// `/forgot-password`: how a password is reset on a self-hosted instance
/// (there is no email reset: the server may have no mail server at all).
pub fn forgot() -> PageResult {
    render_status(&ForgotPage { l: public_layout("Forgot your password?", String::new()) }, StatusCode::OK)
}

pub async fn setup_form(app: &AppState, req: &Req) -> PageResult {
    let v = Input::from_pairs([
        ("business_type".to_string(), "PLUMBING".to_string()),
        ("timezone".to_string(), "UTC".to_string()),
        ("country".to_string(), "US".to_string()),
        // The link `serve` printed carries the code.
        ("setup_token".to_string(), req.query_input().get("token").to_string()),
    ]);
    setup_page(app, req, v, FieldErrors::default(), StatusCode::OK).await
}

pub async fn setup(app: &AppState, req: &Req) -> PageResult {
    let form = req.form();
    check_pre_csrf(app, req, &form)?;
    if let Err(wait) = app.web.logins.attempt("(setup)", &req.ip).await {
        let message = format!("Too many tries. Please wait {}.", crate::web::throttle::describe(wait));
        return Err(crate::error::ApiError::TooManyRequests(message).into());
    }
    if !app.web.setup_token.matches(form.get("setup_token")).await {
        app.web.logins.failed("(setup)", &req.ip).await;
        tracing::warn!(ip = %req.ip, "first-run setup with a wrong or missing setup code");
        let mut errors = FieldErrors::default();
        errors.add("setup_token", "is not the code frontdesk printed on its console when it started");
        return setup_page(app, req, without_passwords(form), errors, StatusCode::FORBIDDEN).await;
    }
    match crate::web::actions::setup(app, &form).await {
        Ok(user) => {
            app.web.setup_token.clear().await;
            tracing::info!(user = %user.id, "first-run setup done");
            let (next, message) = match user.role {
                crate::domain::Role::Operator => ("/operator", "Your operator account is ready."),
                _ => ("/dashboard", "Your business is ready. Here is what's left to get it live."),
            };
            start_session(app, &user, next, message)
        }
        Err(e) => {
            let errors = form_error(e)?;
            setup_page(app, req, without_passwords(form), errors, StatusCode::BAD_REQUEST).await
        }
    }
}

/// Passwords are never sent back into a page; everything else is.
fn without_passwords(form: Input) -> Input {
    let mut keys = vec![
        "name",
        "business_type",
        "timezone",
        "country",
        "email",
        "notification_email",
        "plan",
        "setup_token",
    ];
    keys.extend(["service_area", "prices", "about", "holidays", "phone"]);
    let days: Vec<String> = hour_fields().into_iter().map(|(k, _, _)| k).collect();
    let mut pairs = Vec::new();
    for key in keys.into_iter().chain(days.iter().map(String::as_str)) {
        if form.has(key) {
            pairs.push((key.to_string(), form.get(key).to_string()));
        }
    }
    Input::from_pairs(pairs)
}

fn login_page(req: &Req, email: &str, next: &str, error: Option<String>, status: StatusCode) -> PageResult {
    let (csrf, cookie) = pre_csrf(req);
    let page = LoginPage {
        l: public_layout("Sign in", csrf),
        email: email.to_string(),
        next: next.to_string(),
        error,
    };
    Ok(with_cookie(render_status(&page, status)?, cookie))
}

pub async fn login_form(app: &AppState, req: &Req) -> PageResult {
    if app.store.count_users().await? == 0 {
        return Ok(redirect("/setup"));
    }
    let q = req.query_input();
    login_page(req, "", safe_next(q.get("next")), None, StatusCode::OK)
}

/// Only a path of this site, in characters that cannot change what a
/// browser makes of it: never an open redirect. Browsers drop tabs and line
/// breaks and read `\` as `/`, so `/<TAB>/evil.example` would leave the
/// site; anything but plain URL characters sends the user to the dashboard.
pub(crate) fn safe_next(next: &str) -> &str {
    let plain = next.bytes().all(|b| b.is_ascii_alphanumeric() || b"/-._~%?=&+,;:@!$'()*".contains(&b));
    let local = next.starts_with('/') && !next.starts_with("//");
    if plain && local && next.len() <= 2048 {
        next
    } else {
        "/dashboard"
    }
}

pub async fn login(app: &AppState, req: &Req) -> PageResult {
    let form = req.form();
    check_pre_csrf(app, req, &form)?;
    let next = safe_next(form.get("next"));
    match auth::login(app, form.get("email"), form.get("password"), &req.ip).await {
        Ok(user) => start_session(app, &user, next, ""),
        Err(e) => {
            let status = match e {
                auth::LoginError::Throttled(_) => StatusCode::TOO_MANY_REQUESTS,
                auth::LoginError::Wrong => StatusCode::UNAUTHORIZED,
                auth::LoginError::Busy | auth::LoginError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            };
            login_page(req, form.get("email"), next, Some(e.message()), status)
        }
    }
}

fn start_session(app: &AppState, user: &crate::domain::User, next: &str, message: &str) -> PageResult {
    let (token, _) = auth::issue(app, user, "web", auth::WEB_SESSION)?;
    let response = if message.is_empty() { redirect(next) } else { redirect_with(next, message) };
    Ok(with_cookie(response, Some(auth::session_cookie(app, &token))))
}

/// Ends the session on the server too, so a copy of the cookie is worthless.
pub async fn logout(page: &Page<'_>) -> PageResult {
    if let Some(token) = auth::cookie(&page.req.headers, auth::SESSION_COOKIE) {
        auth::revoke(page.app, token, &page.caller.claims).await?;
    }
    let response = redirect_with("/login", "You are signed out.");
    Ok(with_cookie(response, Some(auth::session_cookie(page.app, ""))))
}

fn password_parts() -> FormParts {
    FormParts {
        heading: "Your account",
        intro: "Changing your password signs you out everywhere else.",
        action: "/account",
        submit: "Change password",
        fields: vec![
            Field::new("current_password", "Current password", "password", ""),
            Field::new("new_password", "New password", "password", "At least 10 characters"),
            Field::new("confirm_password", "New password again", "password", ""),
        ],
    }
}

pub async fn account_form(page: &Page<'_>, _v: Option<Input>, errors: FieldErrors) -> PageResult {
    let mut l = page.layout("Account", "/account").await;
    // Everyone may change their own password, staff included.
    l.can_manage = true;
    let status = status_for(&errors);
    render_status(&SimpleFormPage::new(l, Input::default(), errors, password_parts()), status)
}

pub async fn change_password(page: &Page<'_>) -> PageResult {
    match crate::web::actions::change_password(page.app, page.caller, &page.req.form(), &page.req.ip).await {
        Ok(user) => {
            tracing::info!(user = %user.id, "password changed");
            // Older sessions no longer match the password; this one continues.
            start_session(page.app, &user, "/account", "Password changed.")
        }
        Err(e) => account_form(page, None, form_error(e)?).await,
    }
}

#[cfg(test)]
mod tests {
    use super::safe_next;

    #[test]
    fn next_is_a_plain_local_path_or_the_dashboard() {
        assert_eq!(safe_next("/leads?status=NEW&q=a%20b"), "/leads?status=NEW&q=a%20b");
        for bad in [
            "/\t/evil.example/path",
            "//evil.example",
            "/\\evil.example",
            "/\\/evil.example",
            "https://evil.example",
            "/\n/evil.example",
            " /x",
            "/ /evil",
            "",
            "javascript:alert(1)",
        ] {
            assert_eq!(safe_next(bad), "/dashboard", "{bad:?}");
        }
    }
}
