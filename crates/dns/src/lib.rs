//! DNS stub client for measurement: many queries in flight over few UDP sockets.
