// IP ranges as sealer's `--masters 10.0.0.2-10.0.0.9` takes them
// (utils/net TransferToIPList): "FIRST-LAST", both ends included, FIRST not
// after LAST, both of one family. cimg takes them in the Clusterfile's
// spec.hosts[].ips too (sealer's Clusterfile takes single IPs only).
#pragma once

#include <string>
#include <vector>

#include "base/status.h"

namespace cfs::deploy {

// At most this many addresses come out of one range (a typo in an IPv6
// range would otherwise list billions of hosts).
inline constexpr size_t kMaxRangeHosts = 4096;

// A text without '-' is returned as is (one item; the caller checks that it
// is an IP). "A-B" lists A, A+1, ..., B (carrying across octets); anything
// else -- more than one '-', an end that is not an IP, mixed IPv4 and IPv6,
// A after B, more than kMaxRangeHosts addresses -- is kInvalidArgument with
// a message naming the text.
Result<std::vector<std::string>> ExpandIpRange(const std::string& text);

// ExpandIpRange of every item, in order.
Result<std::vector<std::string>> ExpandIpRanges(const std::vector<std::string>& items);

// Whether `ip` is an IPv4 or IPv6 address.
bool IsIpAddress(const std::string& ip);

}  // namespace cfs::deploy
