// The S3 test peer (PEERS.md): @20minutes/s3rver, which checks SigV4
// signatures, on 127.0.0.1. It has no command line of its own, hence this.
//
//   node tests/peers/s3rver.js PORT DIRECTORY ACCESS_KEY SECRET BUCKET...
//
// The key pair is added to s3rver's account (its built-in S3RVER/S3RVER pair
// uses the same string for both halves, which would hide a leaked secret).
// Prints "listening PORT" once it accepts connections; SIGTERM stops it.
//
// With S3RVER_CONDITIONAL_PUT=1 it keeps `If-None-Match: *` on a PUT and
// `If-Match: ETAG` on a PUT or DELETE as AWS S3 has since 2024 (412
// PreconditionFailed when the object exists, or has another ETag; 404 when
// If-Match names none), which s3rver itself ignores: symbold's fleet leases
// rely on them where they are kept.
'use strict';

const path = require('path');

const lib = path.join(__dirname, 'node', 'node_modules', '@20minutes', 's3rver', 'lib');
const S3rver = require(path.join(lib, 's3rver'));
const AWSAccount = require(path.join(lib, 'models', 'account'));

const [port, directory, accessKey, secret, ...buckets] = process.argv.slice(2);
if (!port || !directory || !accessKey || !secret || buckets.length === 0) {
  console.error('usage: s3rver.js PORT DIRECTORY ACCESS_KEY SECRET BUCKET...');
  process.exit(2);
}
AWSAccount.DUMMY_ACCOUNT.createKeyPair(accessKey, secret);

const server = new S3rver({
  address: '127.0.0.1',
  port: Number(port),
  directory,
  silent: false, // one line per request, for a failing test's diagnosis
  configureBuckets: buckets.map((name) => ({ name })),
});

if (process.env.S3RVER_CONDITIONAL_PUT === '1') {
  // first after the request logger: before any route answers
  // Atomic as on AWS: the check and the write are awaited, and another
  // request runs in between, so a conditional request on a key another
  // conditional request is still at fails too.
  const writing = new Set();
  const preconditionFailed = (ctx) => {
    ctx.status = 412;
    ctx.type = 'application/xml';
    ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>PreconditionFailed</Code>' +
      '<Message>At least one of the pre-conditions you specified did not hold</Message></Error>';
  };
  const notFound = (ctx) => {
    ctx.status = 404;
    ctx.type = 'application/xml';
    ctx.body = '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code>' +
      '<Message>The specified key does not exist.</Message></Error>';
  };
  // why the request may not go on: preconditionFailed, notFound, or null
  const refusal = async (ctx, bucket, key) => {
    const ifMatch = ctx.get('if-match');
    if (ctx.method === 'PUT' && ctx.get('if-none-match') === '*') {
      return (await server.store.existsObject(bucket, key)) ? preconditionFailed : null;
    }
    if (!(await server.store.existsObject(bucket, key))) return notFound;
    const { etag } = await server.store.getMetadata(bucket, key);
    return etag.replace(/"/g, '') === ifMatch.replace(/"/g, '') ? null : preconditionFailed;
  };
  server.middleware.splice(1, 0, async (ctx, next) => {
    const [bucket, ...rest] = ctx.path.split('/').slice(1);
    const key = rest.map(decodeURIComponent).join('/');
    const id = `${bucket}/${key}`;
    const conditional = (ctx.method === 'PUT' && ctx.get('if-none-match') === '*') ||
      ((ctx.method === 'PUT' || ctx.method === 'DELETE') && ctx.get('if-match') !== '');
    if (!conditional || !bucket || !key) {
      await next();
    } else if (writing.has(id)) {
      preconditionFailed(ctx);
    } else {
      writing.add(id);
      try {
        const refused = await refusal(ctx, bucket, key);
        if (refused) refused(ctx);
        else await next();
      } finally {
        writing.delete(id);
      }
    }
  });
}

server.run().then(
  (addr) => console.log(`listening ${addr.port}`),
  (err) => {
    console.error(err);
    process.exit(1);
  },
);

process.on('SIGTERM', () => {
  server.close().finally(() => process.exit(0));
});
