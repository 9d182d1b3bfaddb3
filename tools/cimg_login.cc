// cimg login and cimg logout. Argument parsing and printing only.
#include <iostream>
#include <CLI/CLI.hpp>
#include <cstdio>
#include <nlohmann/json.hpp>

#include "registry/auth.h"
#include "registry/client.h"
#include "registry/reference.h"
#include "tools/cimg_common.h"

namespace cimg {

namespace {

std::string ReadPasswordStdin() {
  std::string pw;
  std::getline(std::cin, pw);
  while (!pw.empty() && (pw.back() == '\n' || pw.back() == '\r')) pw.pop_back();
  return pw;
}

}  // namespace

// cimg login and cimg logout
void AddLoginCommands(CLI::App& app, const Global& g, const bool& quiet) {
  static auto* login = app.add_subcommand("login", "Log in to a registry (credentials go to the auth file)");
  login->footer("Example:\n"
      "  cimg login registry.example.com -u alice --password-stdin <pw.txt");
  static std::string login_reg, login_user, login_pass;
  static bool login_stdin = false;
  static RegistryFlags login_flags;
  login->add_option("REGISTRY", login_reg, "host[:port]")->required();
  login->add_option("-u,--username", login_user, "User name");
  login->add_option("-p,--password", login_pass, "Password (prefer --password-stdin)");
  login->add_flag("--password-stdin", login_stdin, "Read the password from stdin");
  login_flags.Add(login, false);
  login->callback([&] {
    std::string reg = cfs::registry::NormalizeRegistryHost(login_reg);
    if (login_stdin && !login_pass.empty()) Fail(Status::Invalid("--password and --password-stdin are exclusive"));
    if (login_user.empty()) {
      if (!::isatty(0) || login_stdin) Fail(Status::Invalid("login: give --username"));
      std::fprintf(stderr, "Username: ");
      std::getline(std::cin, login_user);
    }
    if (login_stdin) {
      login_pass = ReadPasswordStdin();
    } else if (login_pass.empty()) {
      if (!::isatty(0)) Fail(Status::Invalid("login: give --password-stdin (stdin is not a terminal)"));
      char* pw = ::getpass("Password: ");
      login_pass = pw ? pw : "";
    }
    if (login_pass.empty()) Fail(Status::Invalid("login: empty password"));
    login_flags.creds = login_user + ":" + login_pass;
    auto client = login_flags.Connect(reg);
    Must(client->CheckLogin());
    cfs::registry::Credentials c;
    c.username = login_user;
    c.password = login_pass;
    std::string file = login_flags.authfile.empty() ? cfs::registry::DefaultAuthFile() : login_flags.authfile;
    Must(cfs::registry::StoreCredentials(file, reg, c));
    std::printf("Login Succeeded (%s)\n", reg.c_str());
  });
  static auto* logout = app.add_subcommand("logout", "Remove a registry's credentials from the auth file");
  logout->footer("Example:\n"
      "  cimg logout registry.example.com");
  static std::string logout_reg, logout_file;
  logout->add_option("REGISTRY", logout_reg, "host[:port]")->required();
  logout->add_option("--authfile", logout_file, "Auth file (default: $REGISTRY_AUTH_FILE or ~/.docker/config.json)");
  logout->callback([&] {
    std::string reg = cfs::registry::NormalizeRegistryHost(logout_reg);
    std::string file = logout_file.empty() ? cfs::registry::DefaultAuthFile() : logout_file;
    if (!Must(cfs::registry::RemoveCredentials(file, reg)))
      Fail(Status::NotFound("not logged in to " + reg));
    std::printf("Removed login credentials for %s\n", reg.c_str());
  });
}

}  // namespace cimg
