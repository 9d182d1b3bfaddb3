#include "deploy/kubeadm.h"

#include "deploy/host_script.h"

namespace cfs::deploy {

namespace {

// The words of a command line (split on spaces).
std::vector<std::string> Words(const std::string& c) {
  std::vector<std::string> words;
  for (size_t pos = 0; pos < c.size();) {
    size_t sp = c.find(' ', pos);
    std::string w = c.substr(pos, sp == std::string::npos ? std::string::npos : sp - pos);
    pos = sp == std::string::npos ? c.size() : sp + 1;
    if (!w.empty()) words.push_back(w);
  }
  return words;
}

// The `kubeadm join` command lines of kubeadm's output, continuations joined.
std::vector<std::string> JoinLines(const std::string& out) {
  std::vector<std::string> cmds;
  std::string cur;
  bool open = false;
  for (std::string line : OutputLines(out)) {
    size_t a = line.find_first_not_of(" \t"), b = line.find_last_not_of(" \t\r");
    line = a == std::string::npos ? "" : line.substr(a, b - a + 1);
    if (!open && line.rfind("kubeadm join ", 0) != 0) continue;
    open = !line.empty() && line.back() == '\\';
    if (open) line.pop_back();
    cur += (cur.empty() ? "" : " ") + line;
    if (!open) cmds.push_back(std::move(cur)), cur.clear();
  }
  if (!cur.empty()) cmds.push_back(cur);
  return cmds;
}

// `kubeadm ARGS` on c, in the rootfs with its bin/ first on PATH.
std::string Kubeadm(const HostRunner& run, std::vector<std::string> args) {
  args.insert(args.begin(), run.Rootfs());
  return HostCommand(host_scripts::kKubeadm, args);
}

// A join command line (ParseJoinCommand's) as kubeadm.sh arguments, plus `extra`.
std::string JoinCmd(const HostRunner& run, const std::string& join,
                    const std::vector<std::string>& extra) {
  std::vector<std::string> args = Words(join);
  args.erase(args.begin());  // "kubeadm"
  args.insert(args.end(), extra.begin(), extra.end());
  return Kubeadm(run, args);
}

// The join command for the other hosts: what `kubeadm token create
// --print-join-command` prints on m0, else the one `kubeadm init` printed
// (saved on m0 at `saved`).
Result<std::string> JoinCommand(HostRunner& run, HostCtx& m0, const std::string& saved) {
  ExecResult tok;
  Status s = run.Step(m0, "", "", "kubeadm token create",
                      Kubeadm(run, {"token", "create", "--print-join-command"}), "", &tok);
  if (run.planning()) return std::string("kubeadm join (the command master0 prints)");
  std::string join = s.ok() ? ParseJoinCommand(tok.out) : "";
  if (!join.empty()) return join;
  std::string why = s.ok() ? "printed no \"kubeadm join\" command" : "failed";
  ASSIGN_OR_RETURN(ExecResult r, m0.ssh->Run(HostCommand(host_scripts::kReadFile, {saved})));
  join = r.exit_code == 0 ? ParseJoinCommand(r.out) : "";
  if (join.empty())
    return Status::Aborted("host " + m0.host.ip + ": kubeadm token create " + why +
                           ", and kubeadm init printed no join command to fall back on" +
                           (s.ok() ? "" : " (" + s.message() + ")"));
  run.Log(m0.host.ip + ": kubeadm token create " + why +
          "; using the join command kubeadm init printed");
  return join;
}

// `kubeadm init` on m0 (once per cluster); the join command it printed is
// kept (root only) at `saved` for when `kubeadm token create` cannot make one.
Status InitMaster0(HostRunner& run, HostCtx& m0, bool config, const std::string& saved) {
  std::vector<std::string> init =
      config ? std::vector<std::string>{"init", "--config", run.Rootfs() + "/etc/kubeadm.yml",
                                        "--upload-certs"}
             : std::vector<std::string>{"init", "--upload-certs", "--apiserver-advertise-address",
                                        m0.host.ip};
  ExecResult out;
  RETURN_IF_ERROR(run.Step(m0, "kubeadm-init", "done", "kubeadm init", Kubeadm(run, init), "", &out));
  std::string join = ParseJoinCommand(out.out);
  if (join.empty()) return Status::Ok();
  return run.Run(m0, "saving the join command",
                 HostCommand(host_scripts::kWriteFile, {saved, "private"}), join);
}

// The certificate key other masters join with (kubeadm upload-certs on m0).
Result<std::string> CertificateKey(HostRunner& run, HostCtx& m0) {
  ExecResult up;
  RETURN_IF_ERROR(run.Step(m0, "", "", "kubeadm upload-certs",
                           Kubeadm(run, {"init", "phase", "upload-certs", "--upload-certs"}), "",
                           &up));
  if (run.planning()) return std::string(64, '0');  // what the plan shows is the step
  std::string out = up.out;
  while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
  std::string key = out.substr(out.rfind('\n') == std::string::npos ? 0 : out.rfind('\n') + 1);
  if (key.size() != 64 || key.find_first_not_of("0123456789abcdef") != std::string::npos)
    return Status::Aborted("host " + m0.host.ip + ": kubeadm upload-certs printed no certificate key");
  return key;
}

}  // namespace

std::string ParseJoinCommand(const std::string& out) {
  std::string best;
  for (const std::string& c : JoinLines(out)) {
    std::string clean;
    std::vector<std::string> words = Words(c);
    for (size_t i = 0; i < words.size(); i++) {
      if (words[i] == "--control-plane") continue;
      if (words[i] == "--certificate-key") {
        i++;
        continue;
      }
      clean += (clean.empty() ? "" : " ") + words[i];
    }
    // It runs on the other hosts: only the characters such a line has.
    if (clean.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                                "0123456789 .:_-/=[]") != std::string::npos)
      continue;
    bool worker = c.find("--control-plane") == std::string::npos;
    if (best.empty() || worker) best = clean;
    if (worker) break;
  }
  return best;
}

Status BringUpCluster(HostRunner& run, const std::vector<HostCtx*>& all, bool config) {
  HostCtx& m0 = *all[0];
  const std::string saved = run.dir() + "/kubeadm-join";
  RETURN_IF_ERROR(InitMaster0(run, m0, config, saved));
  std::vector<HostCtx*> join_masters, join_nodes;
  for (size_t i = 1; i < all.size(); i++) {
    HostCtx& c = *all[i];
    if (HostRunner::StepDone(c, "kubeadm-join", "done")) {
      RETURN_IF_ERROR(run.Step(c, "kubeadm-join", "done", "kubeadm join", "true"));  // skipped
      continue;
    }
    (c.host.master ? join_masters : join_nodes).push_back(&c);
  }
  if (join_masters.empty() && join_nodes.empty()) return Status::Ok();
  ASSIGN_OR_RETURN(std::string join, JoinCommand(run, m0, saved));
  if (!join_masters.empty()) {
    ASSIGN_OR_RETURN(std::string key, CertificateKey(run, m0));
    for (HostCtx* c : join_masters)
      RETURN_IF_ERROR(run.Step(*c, "kubeadm-join", "done", "kubeadm join (control plane)",
                               JoinCmd(run, join, {"--control-plane", "--certificate-key", key})));
  }
  return run.ForEach(join_nodes, [&](HostCtx& c) {
    return run.Step(c, "kubeadm-join", "done", "kubeadm join", JoinCmd(run, join, {}));
  });
}

Status UpgradeKubernetes(HostRunner& run, const std::vector<HostCtx*>& all,
                         const std::string& value) {
  for (size_t i = 0; i < all.size(); i++) {
    HostCtx& c = *all[i];
    const std::string mode = i == 0 ? "apply" : "node";
    RETURN_IF_ERROR(run.Step(c, "kubeadm-upgrade", value, "kubeadm upgrade " + mode,
                             HostCommand(host_scripts::kKubeadmUpgrade, {run.Rootfs(), mode, c.role()})));
  }
  return Status::Ok();
}

}  // namespace cfs::deploy
