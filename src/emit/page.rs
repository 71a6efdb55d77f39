//! What every HTML page exoauth writes shares: the document head with its
//! Content-Security-Policy, which forbids every external load (a stray
//! reference shows up as a console error) and, unless the page has its own
//! inline script, every script.

use maud::{Markup, PreEscaped, html};

/// The policy of a page without a script.
pub const CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/// The policy of a page with its own inline script.
pub const CSP_WITH_SCRIPT: &str = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:; base-uri 'none'; form-action 'none'";

/// The `<head>`: charset, policy, viewport, generator, title and the inline style.
pub fn head(title: &str, csp: &str, style: &str) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta http-equiv="Content-Security-Policy" content=(csp);
            meta name="viewport" content="width=device-width, initial-scale=1";
            meta name="color-scheme" content="light";
            meta name="generator" content={ "exoauth " (env!("CARGO_PKG_VERSION")) };
            title { (title) }
            style { (PreEscaped(style)) }
        }
    }
}
