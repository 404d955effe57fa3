//! Page-at-a-time access to one listing.

use super::*;

/// What to list and how.
pub(super) struct ListSpec {
    pub(super) op: Operation,
    pub(super) url: Url,
    pub(super) shape: Shape,
    pub(super) start_param: &'static str,
    pub(super) size_param: &'static str,
    pub(super) page_size: u64,
    /// The most items the listing may hold.
    pub(super) ceiling: u64,
    pub(super) resource: String,
}

/// Page-at-a-time access to one listing, so a caller can process each page
/// without holding the whole list. Obtained from the `*_pages` methods.
///
/// ```no_run
/// # async fn f(client: grantledger_jira::JiraClient) -> Result<(), grantledger_jira::JiraError> {
/// let mut pages = client.users_pages();
/// while let Some(page) = pages.next_page().await? {
///     for user in page { /* ... */ let _ = user; }
/// }
/// # Ok(()) }
/// ```
pub struct Pager<T> {
    pub(super) client: JiraClient,
    pub(super) spec: ListSpec,
    pub(super) cursor: Cursor,
    pub(super) decoder: PageDecoder<T>,
    pub(super) _items: PhantomData<fn() -> T>,
}

impl<T> fmt::Debug for Pager<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pager")
            .field("endpoint", &self.spec.op.endpoint())
            .field("next_start", &self.cursor.next_start())
            .finish()
    }
}

impl<T: Bounded> Pager<T> {
    /// The next page's items, or `None` once the listing is complete. An empty
    /// page in the middle of a listing is returned as an empty `Vec`.
    pub async fn next_page(&mut self) -> Result<Option<Vec<T>>, JiraError> {
        let Some(start) = self.cursor.next_start() else {
            return Ok(None);
        };
        let (meta, items, fingerprint) = self.fetch(start).await?;
        self.cursor.advance(&meta, fingerprint)?;
        Ok(Some(items))
    }

    /// One page at an explicit offset, with its paging facts, without moving
    /// this pager's cursor. For callers that learn a listing's `total` from its
    /// first page and then fetch the remaining pages concurrently; such a caller
    /// must check the pages fit together (same `total`, full pages, no repeats)
    /// and fall back to [`Pager::next_page`] when they do not.
    pub async fn page_at(&self, start: u64) -> Result<(PageMeta, Vec<T>), JiraError> {
        let (meta, items, _) = self.fetch(start).await?;
        Ok((meta, items))
    }

    /// The page size this listing asks for.
    pub fn page_size(&self) -> u64 {
        self.spec.page_size
    }

    /// The most items this listing may hold (see [`crate::config::Limits`]).
    pub fn ceiling(&self) -> u64 {
        self.spec.ceiling
    }

    pub(super) async fn fetch(&self, start: u64) -> Result<(PageMeta, Vec<T>, u64), JiraError> {
        let mut url = self.spec.url.clone();
        url.query_pairs_mut()
            .append_pair(self.spec.start_param, &start.to_string())
            .append_pair(self.spec.size_param, &self.spec.page_size.to_string());
        let call = Call {
            op: self.spec.op,
            method: Method::GET,
            url,
            body: None,
            resource: self.spec.resource.clone(),
            repeatable: true,
        };
        let answer = self.client.execute(&call).await?;
        self.client.inner.counters.page();
        let endpoint = self.spec.op.endpoint();
        let (meta, items) = (self.decoder)(&answer.body).map_err(|reason| JiraError::Decode {
            endpoint,
            reason,
            excerpt: excerpt(&answer.body, 200),
        })?;
        self.client.check_lengths(endpoint, &items)?;
        Ok((meta, items, fingerprint(&answer.body)))
    }

    /// Whether the listing is complete.
    pub fn is_done(&self) -> bool {
        self.cursor.next_start().is_none()
    }

    /// Pages taken so far.
    pub fn pages(&self) -> u64 {
        self.cursor.pages()
    }

    /// Every remaining item, collected.
    pub async fn collect_all(mut self) -> Result<Vec<T>, JiraError> {
        let mut all = Vec::new();
        while let Some(page) = self.next_page().await? {
            all.extend(page);
        }
        Ok(all)
    }
}
