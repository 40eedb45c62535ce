// Uploads one file to a Practika server with the unchanged tus-js-client, the way the upload page
// does: ask OPTIONS for the chunk size, then upload. Prints one JSON line for the test to read.
// usage: node upload.mjs <uploads url> <Authorization header value> <file> <title>
import { readFileSync } from 'node:fs'
import { basename } from 'node:path'
import * as tus from 'tus-js-client'

const [endpoint, authorization, path, title] = process.argv.slice(2)
const options = await fetch(endpoint, { method: 'OPTIONS' })
const chunkSize = Number(options.headers.get('Practika-Upload-Chunk-Size'))
let patches = 0
let videoId = null

const upload = new tus.Upload(readFileSync(path), {
  endpoint,
  chunkSize,
  headers: { Authorization: authorization },
  metadata: { filename: basename(path), title },
  retryDelays: [0, 500, 1000],
  onAfterResponse (req, res) {
    if (req.getMethod() === 'PATCH') patches += 1
    videoId = res.getHeader('Practika-Video-Id') || videoId
  },
  onError (error) {
    console.error(String(error))
    process.exit(1)
  },
  onSuccess () {
    console.log(JSON.stringify({ url: upload.url, chunkSize, patches, videoId }))
  },
})
upload.start()
