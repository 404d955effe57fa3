//! The harness against the real headless Chromium: console errors are
//! caught, clean pages pass, screenshots and PDFs are written.

mod console;
