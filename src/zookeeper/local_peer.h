// local_peer.h: whether a TCP connection accepted on a loopback listener was made by this
// process. The TLS bridge (tls_bridge.h) uses it so that no other local process can use
// its listener, and through it our TLS client certificate, to reach ZooKeeper.
//
// How (Linux): the accepted socket's peer address is the local address of the connecting
// socket; the kernel names that socket's inode (sock_diag, looked up by the address pair;
// /proc/net/tcp where netlink is not available), and the connection is ours if
// /proc/self/fd holds a descriptor of that inode. TCP over IPv4 only, in this process's
// network namespace.
//
// Thread-safety: a free function with no state; any thread.
#ifndef DLOCK_SRC_ZOOKEEPER_LOCAL_PEER_H_
#define DLOCK_SRC_ZOOKEEPER_LOCAL_PEER_H_

namespace dlock::zk {

// `fd` is a TCP socket accepted on an IPv4 listener. True if the socket at its other end
// is open in this process; false if it is not, or if that cannot be told (no /proc, a
// socket already closed): the caller refuses the connection then.
bool PeerIsThisProcess(int fd);

}  // namespace dlock::zk

#endif  // DLOCK_SRC_ZOOKEEPER_LOCAL_PEER_H_
