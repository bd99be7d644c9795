// The V8 flags of the server's node process: `npm start`, the images' CMD, and the server
// processes of the benchmarks and tests (test/deploy/images.test.ts keeps them equal).
//
// --initial-heap-size=64: the frame path's objects live for a frame (tens of ms), long enough
// to survive scavenges, and V8 grows the young generation; with about 16 MB live, the room
// under the old generation's limit (about 40 MB) is then less than the young generation's
// capacity, which is when V8 starts incremental marking early (Heap::IncrementalMarkingLimit-
// Reached), so it starts again right after each mark-compact. On the Zen 3 machine, 3 of 4 runs
// of one stream (300 frames each) fell into that: 22-36 mark-compacts, each freeing about
// 1 MB, 1-2 ms of the event loop's CPU a frame more and four GC threads busy beside the
// engine's two. With a 64 MB floor under the limit: one mark-compact (at start-up) in each of
// four runs and in a run of 3,000 frames, and the slowest frames faster (README, Performance);
// the heap stays under 56 MB committed, of the server's 540-620 MB resident.
export const SERVER_NODE_FLAGS: readonly string[] = ['--initial-heap-size=64'];
