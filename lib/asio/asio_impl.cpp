// Asio and Beast are compiled once, here, instead of in every translation unit
// that includes them (BOOST_ASIO_SEPARATE_COMPILATION and
// BOOST_BEAST_SEPARATE_COMPILATION come with the sigkit_asio target).
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>  // sigprobe's turns:/stuns: (Asio SSL over OpenSSL)
#include <boost/beast/src.hpp>
