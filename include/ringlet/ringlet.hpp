// ringlet: everything, for applications. Libraries should include what they use.
#pragma once

#include <ringlet/core/io.hpp>
#include <ringlet/core/result.hpp>
#include <ringlet/core/runtime.hpp>
#include <ringlet/core/shard.hpp>
#include <ringlet/core/stop.hpp>
#include <ringlet/core/task.hpp>
#include <ringlet/core/task_group.hpp>
#include <ringlet/core/time.hpp>
#include <ringlet/core/when.hpp>
#include <ringlet/net/address.hpp>
#include <ringlet/net/buffered_reader.hpp>
#include <ringlet/net/datagram.hpp>
#include <ringlet/net/listener.hpp>
#include <ringlet/net/local.hpp>
#include <ringlet/net/local_datagram.hpp>
#include <ringlet/net/receive.hpp>
#include <ringlet/net/resolve.hpp>
#include <ringlet/net/socket.hpp>
#include <ringlet/net/socket_options.hpp>
#include <ringlet/net/stream.hpp>
#include <ringlet/net/tcp.hpp>
#include <ringlet/net/udp.hpp>
#include <ringlet/tls/context.hpp>
#include <ringlet/tls/listener.hpp>
#include <ringlet/tls/stream.hpp>
