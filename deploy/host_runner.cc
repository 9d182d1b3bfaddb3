#include "deploy/host_runner.h"

#include <algorithm>
#include <atomic>
#include <mutex>
#include <thread>

#include "deploy/host_script.h"

namespace cfs::deploy {

std::vector<std::string> OutputLines(const std::string& text) {
  std::vector<std::string> out;
  for (size_t pos = 0; pos < text.size();) {
    size_t nl = text.find('\n', pos);
    out.push_back(text.substr(pos, nl == std::string::npos ? std::string::npos : nl - pos));
    pos = nl == std::string::npos ? text.size() : nl + 1;
  }
  return out;
}

std::string HostDir(const std::string& cluster) { return "/var/lib/cimg/" + cluster; }

HostRunner::HostRunner(const Clusterfile& cf, const DeployOptions& o)
    : cf_(cf), o_(o), dir_(HostDir(cf.name)) {}

void HostRunner::Log(const std::string& line) const {
  if (o_.log) o_.log(line);
}

std::unique_ptr<HostCtx> HostRunner::NewHost(
    const Clusterfile::Host& h, const std::string& master0,
    const std::map<std::string, std::string>& image_env) const {
  auto c = std::make_unique<HostCtx>();
  c->host = h;
  c->report.ip = h.ip;
  c->env = {{"CIMG_CLUSTER", cf_.name},
            {"CIMG_ROOTFS", Rootfs()},
            {"CIMG_MASTER0", master0},
            {"CIMG_HOST_IP", h.ip},
            {"CIMG_ROLE", h.master ? "master" : "node"}};
  for (const auto& [k, v] : image_env) c->env[k] = v;
  for (const auto& [k, v] : h.env) c->env[k] = v;
  for (const auto& [k, v] : SealerEnv(cf_.registry, cf_.container_runtime, c->env, h.ip))
    c->env[k] = v;
  return c;
}

Status HostRunner::ForEach(const std::vector<HostCtx*>& hosts,
                           const std::function<Status(HostCtx&)>& fn) {
  std::atomic<size_t> next{0};
  std::mutex mu;
  std::vector<Status> errors;
  auto work = [&] {
    for (size_t i; (i = next++) < hosts.size();) {
      Status s = fn(*hosts[i]);
      if (!s.ok()) {
        std::lock_guard<std::mutex> l(mu);
        errors.push_back(s);
      }
    }
  };
  size_t n = std::min<size_t>(hosts.size(), std::max(1, o_.parallel));
  std::vector<std::thread> threads;
  for (size_t i = 1; i < n; i++) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  return Combine(errors);
}

Status HostRunner::Combine(const std::vector<Status>& errors) const {
  if (errors.empty()) return Status::Ok();
  for (size_t i = 1; i < errors.size(); i++) Log("error: " + errors[i].message());
  if (errors.size() == 1) return errors[0];
  return Status::Aborted(errors[0].message() + " (and " + std::to_string(errors.size() - 1) +
                         " more hosts failed, see above)");
}

SshOptions HostRunner::SshFor(const Clusterfile::Host& h) const {
  SshOptions s;
  s.host = h.ip;
  s.port = h.ssh.port.value_or(22);
  s.user = h.ssh.user.value_or("root");
  s.password = h.ssh.passwd.value_or("");
  s.key_file = h.ssh.pk.value_or("");
  s.key_passphrase = h.ssh.pk_passwd.value_or("");
  s.known_hosts = o_.known_hosts;
  s.check_host_key = !o_.insecure_host_keys;
  s.connect_timeout_ms = o_.connect_timeout_ms;
  return s;
}

Status HostRunner::Connect(HostCtx& c) {
  ASSIGN_OR_RETURN(c.ssh, SshSession::Connect(SshFor(c.host)));
  ExecResult r;
  RETURN_IF_ERROR(Run(c, "probing the host", HostCommand(host_scripts::kProbe, {dir_}), "", &r));
  for (const std::string& line : OutputLines(r.out)) {
    if (line == "zstd") c.zstd = true;
    if (line == "dir") c.has_dir = true;
    if (line == "record") c.has_record = true;
    if (line == "fanout") c.fanout_left = true;
    if (line.rfind("arch ", 0) == 0) c.machine = line.substr(5);
    if (line.rfind("step ", 0) == 0) {
      size_t sp = line.find(' ', 5);
      if (sp != std::string::npos) c.steps[line.substr(5, sp - 5)] = line.substr(sp + 1);
    }
  }
  return Status::Ok();
}

Status HostRunner::Fail(const HostCtx& c, const std::string& what, const ExecResult& r) const {
  const std::vector<std::string> tail = OutputLines(r.Tail());
  for (const auto& line : tail) Log(c.host.ip + "| " + line);
  std::string how =
      r.signal.empty() ? "exit status " + std::to_string(r.exit_code) : "signal " + r.signal;
  std::string last = tail.empty() ? "" : tail.back();
  return Status::Aborted("host " + c.host.ip + ": " + what + " failed (" + how + ")" +
                         (last.empty() ? "" : ": " + last));
}

Status HostRunner::Lost(const HostCtx& c, const std::string& what, const Status& s) {
  std::string why = s.message();
  const std::string prefix = c.ssh->name() + ": ";
  if (why.rfind(prefix, 0) == 0) why.erase(0, prefix.size());
  return Status::Unavailable("host " + c.host.ip + ": " + what + ": connection lost (" + why +
                             ")");
}

std::string HostRunner::Exports(const HostCtx& c) const {
  std::string s = "export PATH=" + ShellQuote(Rootfs() + "/bin") + ":$PATH\n";
  for (const auto& [k, v] : c.env) s += "export " + k + "=" + ShellQuote(v) + "\n";
  return s;
}

Result<ExecResult> HostRunner::Exec(HostCtx& c, const std::string& cmd) {
  auto r = c.ssh->Run(Exports(c) + cmd, "");
  if (!r.ok()) return Lost(c, "the command", r.status());
  return r;
}

Status HostRunner::Run(HostCtx& c, const std::string& what, const std::string& cmd,
                       const std::string& input, ExecResult* out) {
  ASSIGN_OR_RETURN(ExecResult r, c.ssh->Run(cmd, input));
  if (r.exit_code != 0) return Fail(c, what, r);
  if (out) *out = std::move(r);
  return Status::Ok();
}

bool HostRunner::StepDone(const HostCtx& c, const std::string& id, const std::string& value) {
  if (id.empty()) return false;
  auto it = c.steps.find(id);
  return it != c.steps.end() && it->second == value;
}

void HostRunner::PlanStep(HostCtx& c, const std::string& id, const std::string& value,
                          const std::string& what) const {
  PlannedStep s;
  s.id = id;
  s.what = what;
  if (id.empty()) {
    s.state = PlannedStep::State::kAlways;
  } else if (StepDone(c, id, value)) {
    s.state = PlannedStep::State::kDone;
  } else {
    auto it = c.steps.find(id);
    if (it != c.steps.end()) s.recorded = it->second;
    c.steps[id] = value;  // as Mark would: later checks of this run see it done
  }
  c.planned.push_back(std::move(s));
}

Status HostRunner::Step(HostCtx& c, const std::string& id, const std::string& value,
                        const std::string& what, const std::string& cmd,
                        const std::string& input, ExecResult* out) {
  if (planning_) {
    PlanStep(c, id, value, what);
    return Status::Ok();
  }
  if (StepDone(c, id, value)) {
    Log(c.host.ip + ": " + what + ": done before, skipped");
    return Status::Ok();
  }
  Log(c.host.ip + ": " + what);
  auto run = c.ssh->Run(Exports(c) + cmd, input);
  if (!run.ok()) return Lost(c, what, run.status());
  ExecResult& r = *run;
  if (r.exit_code != 0) return Fail(c, what, r);
  // What the step printed, for the operator ("IP> line").
  for (const std::string* stream : {&r.out, &r.err})
    for (const auto& line : OutputLines(*stream))
      if (!line.empty()) Log(c.host.ip + "> " + line);
  if (out) *out = r;
  if (!id.empty()) RETURN_IF_ERROR(Mark(c, id, value));
  return Status::Ok();
}

Status HostRunner::Mark(HostCtx& c, const std::string& id, const std::string& value) {
  RETURN_IF_ERROR(Run(c, "recording step " + id,
                      HostCommand(host_scripts::kRecordStep, {dir_, id, value})));
  c.steps[id] = value;
  return Status::Ok();
}

Status HostRunner::Phase(const std::string& phase, const std::vector<HostCtx*>& hosts,
                         bool record) {
  std::vector<Plugin> hooks;
  for (const auto& p : cf_.plugins)
    if (std::find(p.phases.begin(), p.phases.end(), phase) != p.phases.end()) hooks.push_back(p);
  return RunHooks(phase, hooks, hosts, false,
                  [record](const HostCtx& c) { return record ? c.image_id : std::string(); });
}

Status HostRunner::Hooks(const std::string& phase, const std::vector<Plugin>& hooks,
                         const std::vector<HostCtx*>& hosts, const std::string& value,
                         bool any_scope) {
  return RunHooks(phase, hooks, hosts, any_scope, [&value](const HostCtx&) { return value; });
}

Status HostRunner::RunHooks(const std::string& phase, const std::vector<Plugin>& hooks,
                            const std::vector<HostCtx*>& hosts, bool any_scope,
                            const std::function<std::string(const HostCtx&)>& value_of) {
  for (const auto& p : hooks) {
    std::vector<HostCtx*> in;
    for (HostCtx* h : hosts)
      if (any_scope || p.scope.empty() ||
          std::find(p.scope.begin(), p.scope.end(), h->role()) != p.scope.end())
        in.push_back(h);
    RETURN_IF_ERROR(ForEach(in, [&](HostCtx& c) {
      const std::string value = value_of(c);
      const std::string id = value.empty() ? "" : "plugin-" + p.name + "-" + phase;
      return Step(c, id, value, "plugin " + p.name + " (" + phase + ")",
                  HostCommand(host_scripts::kRunPlugin, {Rootfs()}), p.data);
    }));
  }
  return Status::Ok();
}

}  // namespace cfs::deploy
