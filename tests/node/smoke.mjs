// Smoke test: Google's own Node client (@googleapis/factchecktools) against this service.
// Run by tests/api/v1alpha1/test_google.py::test_node_client_smoke with FACTCHECK_BASE (the
// server), FACTCHECK_KEY (a publisher write key for the polygraph.info test publisher) and
// FACTCHECK_IMAGE (a copy of the image of the one review, by maldita.es, published before the
// script runs).
// Prints {"ok": true} as its last line and exits 0 when every check passes.

import assert from 'node:assert/strict';
import { factchecktools } from '@googleapis/factchecktools';

const base = process.env.FACTCHECK_BASE;
const key = process.env.FACTCHECK_KEY;
const image = process.env.FACTCHECK_IMAGE;
assert.ok(base && key && image, 'set FACTCHECK_BASE, FACTCHECK_KEY and FACTCHECK_IMAGE');

// An API key given as `auth` is sent as Google's `key=` parameter.
const api = factchecktools({ version: 'v1alpha1', auth: key, rootUrl: `${base}/` });
const site = 'https://www.polygraph.info/a/node';

function markup(url, n, textualRating = 'False') {
  return {
    url: `${url}#claim-${n}`,
    claimReviewed: `Node smoke claim ${n} about a bridge sold to foreigners.`,
    claimDate: '2024-01-26',
    claimAuthor: { name: 'Maria Zakharova', sameAs: 'https://en.wikipedia.org/wiki/Maria_Zakharova' },
    rating: { textualRating, ratingValue: 1, bestRating: 5, worstRating: 1 },
  };
}

async function status(promise) {
  try {
    await promise;
  } catch (error) {
    return [error.response?.status, error.response?.data?.error?.status];
  }
  throw new Error('expected an error');
}

async function all(list, params) {
  const seen = [];
  let pageToken;
  do {
    const { data } = await list({ ...params, pageToken });
    seen.push(...(data.claimReviewMarkupPages ?? data.claims ?? data.results ?? []));
    pageToken = data.nextPageToken;
  } while (pageToken);
  return seen;
}

// pages: create, get, update, stale update, list, delete
const url = `${site}/page-1.html`;
const { data: created } = await api.pages.create({
  requestBody: { pageUrl: url, publishDate: '2024-01-30', claimReviewMarkups: [markup(url, 1), markup(url, 2)] },
});
assert.match(created.name, /^pages\/[A-Za-z0-9_-]+$/);
assert.equal(created.pageUrl, url);
assert.deepEqual(created.claimReviewMarkups, [markup(url, 1), markup(url, 2)]);

const { data: got } = await api.pages.get({ name: created.name });
assert.deepEqual(got, created);

const { data: updated } = await api.pages.update({
  name: created.name,
  requestBody: { ...got, claimReviewMarkups: [markup(url, 1, 'Mostly false')] },
});
assert.deepEqual(updated.claimReviewMarkups, [markup(url, 1, 'Mostly false')]);
assert.notEqual(updated.versionId, created.versionId);

assert.deepEqual(
  await status(api.pages.update({ name: created.name, requestBody: { ...got } })),
  [409, 'ABORTED'],
);

const other = `${site}/page-2.html`;
await api.pages.create({ requestBody: { pageUrl: other, claimReviewMarkups: [markup(other, 1)] } });
const listed = await all((p) => api.pages.list(p), { organization: 'polygraph.info', pageSize: 1 });
assert.deepEqual(listed.map((p) => p.pageUrl).sort(), [url, other]);
const { data: byUrl } = await api.pages.list({ url });
assert.equal(byUrl.claimReviewMarkupPages.length, 1);

// claims:search: public, paged to the end without duplicates
const found = await all((p) => api.claims.search(p), { query: 'node smoke bridge', pageSize: 1 });
assert.equal(found.length, 2);
assert.equal(new Set(found.map((c) => c.claimReview[0].url)).size, 2);
assert.equal(found[0].claimReview[0].publisher.site, 'polygraph.info');
assert.deepEqual(await status(api.claims.search({})), [400, 'INVALID_ARGUMENT']);

// claims:imageSearch: the review published before the script ran, found by a copy of its image
const byImage = await all((p) => api.claims.imageSearch(p), { imageUri: image, pageSize: 1 });
assert.equal(byImage.length, 1);
assert.equal(byImage[0].claim.claimReview[0].publisher.site, 'maldita.es');
assert.deepEqual(await status(api.claims.imageSearch({})), [400, 'INVALID_ARGUMENT']);

// delete, then the page is gone
const { data: deleted } = await api.pages.delete({ name: created.name });
assert.deepEqual(deleted, {});
assert.deepEqual(await status(api.pages.get({ name: created.name })), [404, 'NOT_FOUND']);

console.log(JSON.stringify({ ok: true }));
