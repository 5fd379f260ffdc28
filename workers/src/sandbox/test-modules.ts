/**
 * WAT sources of the sandbox tests' user modules, assembled with the `wabt` package at test
 * time: a good kernel and modules that try to read a host file, open a socket, grow memory
 * past the cap, loop forever, claim a huge output or flood stdout/stderr.
 */

/** out[i] = 2·in[i]; memory imported; arrays placed at __heap_base. */
export const WAT_DOUBLE = `(module
  (import "env" "memory" (memory 1))
  (global (export "__heap_base") i32 (i32.const 1024))
  (func (export "double") (param $in i32) (param $n i32) (param $out i32) (param $cap i32) (result i32)
    (local $i i32)
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (local.get $n)))
      (f64.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 3)))
        (f64.mul (f64.const 2) (f64.load (i32.add (local.get $in) (i32.shl (local.get $i) (i32.const 3))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (local.get $n)))`;

/** Opens "/etc/passwd" relative to fd 3 (a preopen it does not have) and reads it. */
export const WAT_READ_FILE = `(module
  (import "wasi_snapshot_preview1" "path_open" (func $open (param i32 i32 i32 i32 i32 i64 i64 i32 i32) (result i32)))
  (import "wasi_snapshot_preview1" "fd_read" (func $read (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (global (export "__heap_base") i32 (i32.const 4096))
  (data (i32.const 16) "/etc/passwd")
  (func (export "steal") (param i32 i32 i32 i32) (result i32)
    (call $open (i32.const 3) (i32.const 0) (i32.const 16) (i32.const 11) (i32.const 0) (i64.const 2) (i64.const 0) (i32.const 0) (i32.const 64))
    (if (i32.ne (i32.const 0)) (then (return (i32.const -1))))
    (drop (call $read (i32.load (i32.const 64)) (i32.const 128) (i32.const 1) (i32.const 256)))
    (i32.const 0)))`;

/** Accepts a connection on fd 3 (WASI preview1's only socket entry points). */
export const WAT_SOCKET = `(module
  (import "wasi_snapshot_preview1" "sock_accept" (func $accept (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (global (export "__heap_base") i32 (i32.const 4096))
  (func (export "listen") (param i32 i32 i32 i32) (result i32)
    (drop (call $accept (i32.const 3) (i32.const 0) (i32.const 64)))
    (i32.const 0)))`;

/** Imports a host function the sandbox does not provide (a raw socket). */
export const WAT_IMPORTS_SOCKET = `(module
  (import "env" "socket" (func $socket (param i32 i32 i32) (result i32)))
  (memory (export "memory") 1 1)
  (global (export "__heap_base") i32 (i32.const 4096))
  (func (export "listen") (param i32 i32 i32 i32) (result i32)
    (call $socket (i32.const 2) (i32.const 1) (i32.const 0))))`;

/** Doubles its memory until a grow is refused, then traps (as allocators do on out-of-memory). */
export const WAT_GROW = `(module
  (import "env" "memory" (memory 1))
  (global (export "__heap_base") i32 (i32.const 1024))
  (func (export "hog") (param i32 i32 i32 i32) (result i32)
    (loop $l
      (if (i32.lt_s (memory.grow (memory.size)) (i32.const 0)) (then unreachable))
      (br $l))
    (i32.const 0)))`;

/** Defines its own memory with no maximum (cannot be capped). */
export const WAT_UNCAPPED = `(module
  (memory (export "memory") 1)
  (global (export "__heap_base") i32 (i32.const 1024))
  (func (export "f") (param i32 i32 i32 i32) (result i32) (i32.const 0)))`;

/** Loops forever. */
export const WAT_SPIN = `(module
  (import "env" "memory" (memory 1))
  (global (export "__heap_base") i32 (i32.const 1024))
  (func (export "spin") (param i32 i32 i32 i32) (result i32)
    (loop $l (br $l))
    (i32.const 0)))`;

/** Divides by zero (an ordinary trap). */
export const WAT_TRAP = `(module
  (import "env" "memory" (memory 1))
  (global (export "__heap_base") i32 (i32.const 1024))
  (func (export "boom") (param i32 i32 i32 i32) (result i32)
    (i32.div_s (i32.const 1) (i32.const 0))))`;

/** Claims to have written a billion outputs (far past the capacity it was given). */
export const WAT_HUGE_OUTPUT = `(module
  (import "env" "memory" (memory 1))
  (global (export "__heap_base") i32 (i32.const 1024))
  (func (export "spew") (param i32 i32 i32 i32) (result i32)
    (i32.const 1000000000)))`;

/**
 * Floods stdout and stderr: 100,000 writes of 64 bytes to each (12.8 MB in all), each line a
 * forged JSON log record, then returns its input doubled like {@link WAT_DOUBLE}.
 */
export const WAT_LOG_FLOOD = `(module
  (import "wasi_snapshot_preview1" "fd_write" (func $write (param i32 i32 i32 i32) (result i32)))
  (memory (export "memory") 2 2)
  (global (export "__heap_base") i32 (i32.const 4096))
  (data (i32.const 64) "{\\"level\\":\\"error\\",\\"msg\\":\\"forged by the module\\",\\"pad\\":\\"xxxxxxxx\\"}\\n")
  (func (export "flood") (param $in i32) (param $n i32) (param $out i32) (param $cap i32) (result i32)
    (local $i i32)
    (i32.store (i32.const 0) (i32.const 64))
    (i32.store (i32.const 4) (i32.const 64))
    (block $done (loop $l
      (br_if $done (i32.ge_u (local.get $i) (i32.const 100000)))
      (drop (call $write (i32.const 1) (i32.const 0) (i32.const 1) (i32.const 16)))
      (drop (call $write (i32.const 2) (i32.const 0) (i32.const 1) (i32.const 16)))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l)))
    (local.set $i (i32.const 0))
    (block $done2 (loop $l2
      (br_if $done2 (i32.ge_u (local.get $i) (local.get $n)))
      (f64.store (i32.add (local.get $out) (i32.shl (local.get $i) (i32.const 3)))
        (f64.mul (f64.const 2) (f64.load (i32.add (local.get $in) (i32.shl (local.get $i) (i32.const 3))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br $l2)))
    (local.get $n)))`;

/** Calls WASI proc_exit(3) instead of returning. */
export const WAT_EXIT = `(module
  (import "wasi_snapshot_preview1" "proc_exit" (func $exit (param i32)))
  (memory (export "memory") 1 1)
  (global (export "__heap_base") i32 (i32.const 4096))
  (func (export "quit") (param i32 i32 i32 i32) (result i32)
    (call $exit (i32.const 3))
    (i32.const 0)))`;

/** Assembles WAT with the `wabt` package (a devDependency, loaded only by tests and benches). */
export async function assembleWat(text: string): Promise<Uint8Array> {
  const load = require('wabt') as () => Promise<{ parseWat(name: string, text: string): { toBinary(o: object): { buffer: Uint8Array }; destroy(): void } }>;
  const wabt = await load();
  const m = wabt.parseWat('user.wat', text);
  try {
    return Uint8Array.from(m.toBinary({}).buffer);
  } finally {
    m.destroy();
  }
}
