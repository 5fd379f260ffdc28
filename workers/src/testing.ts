// Test fixtures of @gramfleet/workers (`@gramfleet/workers/testing`), for test suites and
// benchmarks: WAT sources of user modules that behave well or try to escape the sandbox, and
// the assembler that turns them into `.wasm` bytes (needs the `wabt` dev dependency). Not part
// of the public API. Explicit exports only.
export {
  WAT_DOUBLE,
  WAT_GROW,
  WAT_HUGE_OUTPUT,
  WAT_IMPORTS_SOCKET,
  WAT_LOG_FLOOD,
  WAT_READ_FILE,
  WAT_SOCKET,
  WAT_SPIN,
  WAT_TRAP,
  WAT_UNCAPPED,
  assembleWat,
} from './sandbox/test-modules';
