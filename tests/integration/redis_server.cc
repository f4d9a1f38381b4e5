#include "integration/redis_server.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <array>
#include <cstdio>
#include <fstream>

#include "integration/server_process.h"

namespace dlock::test {
std::unique_ptr<RedisServer> RedisServer::Start(std::vector<std::string> extra_args,
                                                const TlsFiles* tls, bool client_auth) {
  std::unique_ptr<RedisServer> server(new RedisServer());
  server->port_ = FreePort();
  server->tls_ = tls != nullptr;
  std::string pattern = (std::filesystem::temp_directory_path() / "dlock-redis-XXXXXX").string();
  server->dir_ = ::mkdtemp(pattern.data());
  std::string port = std::to_string(server->port_);
  std::vector<std::string> args = {"redis-server",
                                   "--bind",
                                   "127.0.0.1",
                                   "--save",
                                   "",
                                   "--appendonly",
                                   "no",
                                   "--dir",
                                   server->dir_.string(),
                                   "--logfile",
                                   (server->dir_ / "redis.log").string()};
  if (tls) {
    for (std::string a : {"--port", "0", "--tls-port"}) args.push_back(a);
    args.push_back(port);
    args.insert(args.end(), {"--tls-cert-file", tls->server_cert.string(), "--tls-key-file",
                             tls->server_key.string(), "--tls-ca-cert-file", tls->ca_cert.string(),
                             "--tls-auth-clients", client_auth ? "yes" : "no"});
  } else {
    args.insert(args.end(), {"--port", port});
  }
  args.insert(args.end(), extra_args.begin(), extra_args.end());
  for (std::size_t i = 0; i + 1 < extra_args.size(); ++i) {
    if (extra_args[i] == "--requirepass") server->cli_auth_ = {"-a", extra_args[i + 1]};
  }

  server->args_ = std::move(args);
  if (!server->Launch()) return nullptr;
  return server;
}

bool RedisServer::Launch() {
  pid_ = SpawnServer(
      args_, (dir_ / "redis.out").string(), [&] { return PortAccepts(port_); }, "redis-server");
  return pid_ > 0;
}

bool RedisServer::Restart() {
  Stop();
  return Launch();
}

RedisServer::~RedisServer() {
  Stop();
  std::error_code ec;
  std::filesystem::remove_all(dir_, ec);
}

std::string RedisServer::Uri(const std::string& userinfo, const std::string& suffix) const {
  return std::string(tls_ ? "rediss://" : "redis://") + (userinfo.empty() ? "" : userinfo + "@") +
         "127.0.0.1:" + std::to_string(port_) + suffix;
}

void RedisServer::Pause() { ::kill(pid_, SIGSTOP); }
void RedisServer::Resume() { ::kill(pid_, SIGCONT); }

void RedisServer::Stop() { KillServer(pid_); }

std::string RedisServer::Cli(const std::vector<std::string>& args) const {
  std::string cmd = "redis-cli --no-auth-warning -p " + std::to_string(port_);
  for (const auto& a : cli_auth_) cmd += " '" + a + "'";
  for (const auto& a : args) cmd += " '" + a + "'";
  return CommandOutput(cmd);
}

}  // namespace dlock::test
