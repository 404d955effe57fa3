//! grantledger's reports for people: a standalone HTML document of an access
//! review campaign that opens in any browser and prints.
//!
//! The review crate maps its campaign state into the plain-data view model
//! ([`CampaignReport`]); [`render_html`] turns it into one self-contained
//! document: inline CSS, no script, no external resource, every text escaped.
//! This crate depends on none of ours, so the model can be built by anything
//! (the CLI, a web server, a test).

mod campaign;
mod escape;
mod html;

pub use campaign::{CampaignReport, Evidence, ItemRow, RemediationRow, ReviewerProgress, Totals};
pub use html::{render_html, render_html_with, thousands, RenderOptions, TABLE_ROWS_MAX};
