// Fan-out: one rootfs stream to many hosts with about one copy of it on the
// deploy host's link (rootfs_sync.h step 2, `--fanout N`).
//
// The compressed tar stream is cut into pieces (kFanoutPiece bytes); the
// deploy host sends every host, over that host's own SSH session, each
// piece's size and SHA-256 as it is made, and the bytes of the pieces to one
// host only: the seed. The hosts form a tree (FanoutParents): each fetches
// the pieces from its parent over SSH (host to host, with a key pair made on
// the fetching host for this transfer and admitted on its ancestors for
// fanout_serve.sh only; the ancestors' host keys are the ones the deploy host
// checked), while its own children fetch from it. A host keeps a piece, unpacks
// it and serves it only once its size and SHA-256 match the deploy host's. A
// source that fails, stalls past SSH's keep-alives or sends a wrong piece is
// left for the next ancestor, then for the deploy host ("need K": it sends
// the pieces from K on itself), so a host that dies mid-relay stops no host
// below it. Host side: deploy/host/fanout_*.sh.
#pragma once

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "base/status.h"
#include "deploy/host_runner.h"

namespace cfs::deploy {

// Bytes of a piece of the compressed stream (the last one may be shorter).
inline constexpr size_t kFanoutPiece = 4 << 20;

// File data below which a stream goes to each host directly.
inline constexpr uint64_t kFanoutMinBytes = 16 << 20;

// The relay tree of n hosts for `fanout` >= 1: parent[i] is the host host i
// fetches from, -1 the deploy host (host 0, the seed, only); host i >= 1
// takes the stream from host (i - 1) / fanout, so every host feeds at most
// `fanout` others.
std::vector<int> FanoutParents(size_t n, int fanout);

// What a fan-out transfer moved.
struct FanoutStats {
  uint64_t stream_bytes = 0;  // the compressed stream
  uint64_t sent_bytes = 0;    // piece bytes sent from the deploy host (all hosts)
};

// Writes the compressed stream to fd and closes it.
using StreamProducer = std::function<Status(int fd)>;

// Streams to `hosts` (all receiving the same stream, all connected) with
// fan-out `fanout` >= 1; `max_bytes`: the stream's size at most (a host
// with room for it keeps its spool in memory); `tmp_dir` holds the pieces on
// this host meanwhile.
// Returns each host's outcome (statuses[i] for hosts[i]); a host that fails
// is named in its status and the others finish. Every host is left without
// the transfer's keys and spool.
// Removes what a fan-out transfer left on c (its authorized_keys lines, key
// pair and spool; its processes then end): done at the end of every
// transfer, and by the next deploy on a host the end did not reach.
Status FanoutCleanup(HostRunner& run, HostCtx& c);

std::vector<Status> FanoutStream(HostRunner& run, const std::vector<HostCtx*>& hosts, int fanout,
                                 uint64_t max_bytes, const std::string& tmp_dir,
                                 const StreamProducer& produce, FanoutStats* stats);

}  // namespace cfs::deploy
