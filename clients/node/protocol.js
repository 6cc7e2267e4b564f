'use strict';
// The contract as this package loads it: the .proto files shipped in proto/ (copied from
// the repository's protos/ by `npm run generate`) and the loader options. The TypeScript
// declarations in generated/ are produced with the same options (scripts/generate.js), so
// they describe exactly the objects the loader hands over: snake_case fields, 64-bit
// integers as numbers, every field present.

const path = require('path');
const grpc = require('@grpc/grpc-js');
const protoLoader = require('@grpc/proto-loader');

const PROTO_DIR = path.join(__dirname, 'proto');
const PROTO_FILES = ['fastport/v1/broker.proto', 'fastport/v1/admin.proto'];
const LOADER_OPTIONS = Object.freeze({ keepCase: true, longs: Number, defaults: true });

let services = null;
/** The fastport.v1 service constructors, loaded once. */
function loadServices() {
  if (services === null) {
    const definition = protoLoader.loadSync(PROTO_FILES, { ...LOADER_OPTIONS, includeDirs: [PROTO_DIR] });
    services = grpc.loadPackageDefinition(definition).fastport.v1;
  }
  return services;
}

module.exports = { LOADER_OPTIONS, PROTO_FILES, loadServices };
