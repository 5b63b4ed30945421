#ifndef IPTABLES_H
#define IPTABLES_H
#endif
