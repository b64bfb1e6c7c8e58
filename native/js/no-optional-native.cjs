// ws tries to load its optional native helpers (bufferutil, utf-8-validate) and falls back to plain
// JavaScript when they are absent. Inside the embedded runtime they must stay absent: resolved from
// the file system they could be any build, and in a host that dlopen()s the library without
// RTLD_GLOBAL a Node-API addon cannot even link (a fatal, uncatchable error).
throw new Error('optional native module left out of the embedded engine bundle');
