#include "deploy/host_script.h"

#include "deploy/ssh_session.h"

namespace cfs::deploy {

std::string HostCommand(const char* script, const std::vector<std::string>& args) {
  std::string cmd = "bash -c " + ShellQuote(script) + " cimg-host";
  for (const std::string& a : args) cmd += " " + ShellQuote(a);
  return cmd;
}

}  // namespace cfs::deploy
