// Uploads one file to a Practika server with the unchanged tus-js-client, the way the upload page
// does: ask OPTIONS for the chunk size, then upload. Prints one JSON line for the test to read.
// With "deferred", the file is read as a stream whose length the server learns only at its end
// (uploadLengthDeferred, tus creation-defer-length), as a recording is uploaded while it is made.
// usage: node upload.mjs <uploads url> <Authorization header value> <file> <title> [deferred]
import { createReadStream, readFileSync } from 'node:fs'
import { basename } from 'node:path'
import { PassThrough } from 'node:stream'
import * as tus from 'tus-js-client'

const [endpoint, authorization, path, title, mode] = process.argv.slice(2)
const deferred = mode === 'deferred'
const options = await fetch(endpoint, { method: 'OPTIONS' })
const chunkSize = Number(options.headers.get('Practika-Upload-Chunk-Size'))
let patches = 0
let videoId = null
const lengths = []

// Piped, so the client sees a plain stream, not a file whose size it could ask for.
const source = deferred ? createReadStream(path, { highWaterMark: 16 * 1024 }).pipe(new PassThrough()) : readFileSync(path)
const upload = new tus.Upload(source, {
  endpoint,
  chunkSize,
  uploadLengthDeferred: deferred,
  headers: { Authorization: authorization },
  metadata: { filename: basename(path), title },
  retryDelays: [0, 500, 1000],
  onAfterResponse (req, res) {
    if (req.getMethod() === 'PATCH') patches += 1
    lengths.push([req.getMethod(), req.getHeader('Upload-Length') || null, req.getHeader('Upload-Defer-Length') || null])
    videoId = res.getHeader('Practika-Video-Id') || videoId
  },
  onError (error) {
    console.error(String(error))
    process.exit(1)
  },
  onSuccess () {
    console.log(JSON.stringify({ url: upload.url, chunkSize, patches, videoId, lengths }))
  },
})
upload.start()
