// Package querysvc is the querytrigger function's behaviour (contract §5): it decodes API
// Gateway HTTP API (payload 2.0) requests and direct invocations, runs Data Cloud queries and
// metadata calls, pages large results through an opaque cursor, and maps every failure to
// {"error":{"code","message"}} with an HTTP status.
//
// # Requests
//
// Through API Gateway the route comes from routeKey ("POST /query", "GET /metadata"); for
// other route keys ($default, ANY /{proxy+}) it comes from requestContext.http.method and
// rawPath, with a stage prefix removed. A body marked isBase64Encoded is decoded first. A
// direct invocation (an event without requestContext) is a query request itself:
// {"sql": "..."} or {"cursor": "..."}; it gets the answer body as the invocation result, and
// an error body then also carries "status".
//
// # Paging and the 6 MB limit
//
// Lambda refuses a response payload over 6 MB, and for an API Gateway answer the payload is
// the whole response object with the body JSON-escaped inside it. Every answer is therefore
// measured exactly as the runtime will encode it and kept within a budget
// (QUERY_MAX_RESPONSE_BYTES, default 5,500,000 bytes):
//
//   - The first request runs Query API V2. A batch that fits is answered whole; while
//     Data Cloud has more batches, the answer's cursor holds the nextBatchId, and the
//     continuation fetches that batch.
//   - A batch that does not fit is answered with as many rows as fit. V2 batch ids are
//     single-use and cannot resume mid-batch, so the container that cut the batch keeps
//     the rest in memory (at most HeldBatches batches, for an hour) under a random key the
//     cursor carries, and answers the continuation from there: a reader following cursors
//     usually reaches the same warm container. A continuation that reaches another
//     container reads the rest with Query API V1 limit/offset pages instead (the absolute
//     offset is known, and the rows were seen, so each page is sized to fit an answer).
//     Either way reading then goes on with V2 from the nextBatchId that came with the cut
//     batch, still unused and valid for an hour. Only the remainder of an oversized batch
//     ever comes from V1. Pages that do not fit are cut the same way.
//
// The cursor is base64url(deflate(JSON)) of {"v":1,"q":queryId,"b":nextBatchId,"n":offset,
// "l":limit,"r":remainder,"h":heldKey,"s":sql} (see cursor.go; cursors of earlier versions,
// without "r", page with V1 to the end and stay valid): opaque to callers, self-contained
// (held rows only save a query; any container can continue any cursor), and holding nothing
// secret; a forged cursor can only run SQL its sender could have sent anyway, and reaches
// held rows only with their 96-bit random key, its query and its exact position. A garbled cursor answers 400 invalid_cursor; a batch id Data Cloud
// no longer knows (used, or older than its one-hour lifetime) answers 410 cursor_expired.
//
// Caveat: a V1 page re-runs the query, so its rows line up with the V2 batch only when the
// SQL has an ORDER BY on a unique key; without one, a batch too large for one answer whose
// continuation reaches another container may have rows of its remainder repeated or
// skipped. Results whose batches fit the budget, and continuations answered from held rows,
// never use V1.
package querysvc
