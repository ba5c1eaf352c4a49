//! Salesforce login: replaces the curl and Postman steps of the usual setup
//! guides. Prints the authorize URL (web-server flow with PKCE), listens on a
//! local callback, exchanges the code, checks API access, and prints the
//! instance URL and the refresh token to put in the environment. Problems come
//! with plain-words fixes (API_DISABLED_FOR_ORG, invalid_grant...).
//!
//! ```text
//! cargo run --example salesforce_login
//! ```
//!
//! Reads `SALESFORCE_CLIENT_ID`, `SALESFORCE_CLIENT_SECRET` (if the app requires
//! it), `SALESFORCE_LOGIN_URL` (default https://login.salesforce.com) and
//! `BIND_ADDR` for the callback (default 127.0.0.1:8787). Register
//! `http://localhost:8787/callback` as the connected app's callback URL, with
//! the scopes `api` and `refresh_token`. Without `SALESFORCE_CLIENT_ID` it runs
//! against the embedded sandbox org and plays the browser itself.
#![allow(clippy::print_stdout, clippy::print_stderr)]

use std::collections::HashMap;
use std::time::Duration;

use axum::extract::Query;
use examples::BoxError;
use salesforce_rest::auth::{
    ConnectedApp, Credentials, LoginHost, OAuthClient, Pkce, Session, random_token,
};
use salesforce_rest::testkit::MockOrg;
use secrecy::{ExposeSecret, SecretString};

/// What the login produced.
#[derive(Debug)]
pub struct LoginResult {
    /// The org's instance URL.
    pub instance_url: String,
    /// Whether a refresh token came back.
    pub has_refresh_token: bool,
}

/// Runs the login; `sandbox` plays the browser against a mock org.
pub async fn run(sandbox: Option<&MockOrg>) -> Result<LoginResult, BoxError> {
    let bind = std::env::var("BIND_ADDR").unwrap_or_else(|_| "127.0.0.1:8787".into());
    let listener = tokio::net::TcpListener::bind(if sandbox.is_some() {
        "127.0.0.1:0"
    } else {
        bind.as_str()
    })
    .await?;
    let port = listener.local_addr()?.port();
    let redirect = format!("http://localhost:{port}/callback");
    let app = match sandbox {
        Some(org) => org.app().redirect_uri(redirect.clone()),
        None => {
            let id = std::env::var("SALESFORCE_CLIENT_ID")?;
            let login = std::env::var("SALESFORCE_LOGIN_URL")
                .unwrap_or_else(|_| "https://login.salesforce.com".into());
            let mut app = ConnectedApp::new(id)
                .login_host(LoginHost::parse(&login)?)
                .redirect_uri(redirect.clone());
            if let Ok(secret) = std::env::var("SALESFORCE_CLIENT_SECRET") {
                app = app.client_secret(SecretString::from(secret));
            }
            app
        }
    };
    let oauth = OAuthClient::new(app)?;
    let pkce = Pkce::generate()?;
    let state = random_token(16)?;
    let url = oauth.authorize_url(&["api", "refresh_token"], &state, Some(&pkce));
    println!("1. Open this URL in a browser and log in:\n\n   {url}\n");
    println!("2. Waiting for the callback on {redirect} ...");

    let (tx, rx) = tokio::sync::oneshot::channel::<HashMap<String, String>>();
    let tx = std::sync::Arc::new(std::sync::Mutex::new(Some(tx)));
    let routes = axum::Router::new().route(
        "/callback",
        axum::routing::get(move |Query(q): Query<HashMap<String, String>>| {
            let tx = tx.clone();
            async move {
                if let Some(tx) = tx.lock().ok().and_then(|mut t| t.take()) {
                    let _ = tx.send(q);
                }
                "Login received. You can close this tab and go back to the terminal."
            }
        }),
    );
    let server = tokio::spawn(async move { axum::serve(listener, routes).await });
    if let Some(org) = sandbox {
        // Play the browser: Salesforce redirects back with a code and our state.
        let code = org.issue_authorization_code();
        reqwest::get(format!(
            "http://127.0.0.1:{port}/callback?code={code}&state={state}"
        ))
        .await?;
    }
    let query = tokio::time::timeout(Duration::from_secs(300), rx).await??;
    server.abort();
    if let Some(err) = query.get("error") {
        let desc = query.get("error_description").cloned().unwrap_or_default();
        return Err(format!("login refused: {err}: {desc}. Check the callback URL and OAuth scopes of the connected app.").into());
    }
    if query.get("state") != Some(&state) {
        return Err("the callback's state does not match: ignoring it (possible CSRF)".into());
    }
    let code = query.get("code").ok_or("the callback has no code")?;
    let tokens = match oauth.exchange_code(code, Some(&pkce)).await {
        Ok(t) => t,
        Err(e) => return Err(with_hint(&e).into()),
    };
    println!("3. Code exchanged. Checking API access...");
    let refresh = tokens.refresh_token.clone();
    let session = Session::builder(
        oauth.clone(),
        Credentials::AccessToken {
            token: tokens.access_token.clone(),
            instance_url: tokens.instance_url.clone(),
        },
    )
    .build();
    let client = salesforce_rest::Client::builder(session).build()?;
    if let Err(e) = client.limits().await {
        return Err(with_hint(&e).into());
    }
    println!("   API access works.\n\nPut these in your environment:\n");
    println!(
        "   SALESFORCE_LOGIN_URL={}",
        oauth
            .app()
            .login()
            .base_url()
            .as_str()
            .trim_end_matches('/')
    );
    println!("   SALESFORCE_CLIENT_ID={}", oauth.app().client_id());
    match &refresh {
        Some(rt) if sandbox.is_some() => println!(
            "   SALESFORCE_REFRESH_TOKEN={}…  (sandbox token, shortened)",
            rt.expose_secret().chars().take(12).collect::<String>()
        ),
        Some(rt) => println!("   SALESFORCE_REFRESH_TOKEN={}", rt.expose_secret()),
        None => println!(
            "   (no refresh token: add the `refresh_token` / `offline_access` scope to the connected app)"
        ),
    }
    println!("   # instance: {}", tokens.instance_url);
    Ok(LoginResult {
        instance_url: tokens.instance_url.clone(),
        has_refresh_token: refresh.is_some(),
    })
}

fn with_hint(e: &salesforce_rest::Error) -> String {
    match e.hint() {
        Some(h) => format!("{e}\n\nHow to fix it: {h}"),
        None => e.to_string(),
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    examples::exit_code(cli().await)
}

async fn cli() -> Result<(), BoxError> {
    examples::init_tracing();
    if examples::cli_args("usage: salesforce_login\n\nThe web-server flow with PKCE on a local callback; prints the instance URL and refresh token. Reads SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET, SALESFORCE_LOGIN_URL, BIND_ADDR.", &[], &[])?.1 {
        return Ok(());
    }
    let sandbox = match std::env::var("SALESFORCE_CLIENT_ID") {
        Ok(_) => None,
        Err(_) => {
            println!(
                "(no SALESFORCE_CLIENT_ID: using the embedded sandbox org and playing the browser)\n"
            );
            Some(MockOrg::start().await)
        }
    };
    run(sandbox.as_ref()).await?;
    println!(
        "\nCommon problems:\n  - API_DISABLED_FOR_ORG: tick \"API Enabled\" in the user's profile (Administrative Permissions), on an edition with API access.\n  - invalid_grant: wrong login host (sandbox: https://test.salesforce.com), a refresh token revoked or over the 5-grants limit, or IP / login-hours restrictions."
    );
    Ok(())
}
