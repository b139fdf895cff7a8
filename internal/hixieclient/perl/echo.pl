#!/usr/bin/perl
# echo.pl: a draft-ietf-hybi-00 (= draft-hixie-76) client built on Perl's
# Protocol::WebSocket (Debian: libprotocol-websocket-perl), used by
# TestHixie76PerlInterop as a third-party client of the Upgrader.
#
#   perl internal/hixieclient/perl/echo.pl ws://127.0.0.1:8080/echo
#
# It runs the handshake (Protocol::WebSocket checks the MD5 answer; this
# script also checks the status line, Upgrade, Connection, Origin and
# Location), sends ASCII and multibyte text messages and checks their
# echoes, then runs the closing handshake (0xFF 0x00 both ways) and expects
# the server to close the connection. It prints "ok" and exits 0 on
# success, and dies with a reason otherwise.
use strict;
use warnings;
use utf8;

use Encode ();
use IO::Socket::INET;
use Protocol::WebSocket::Frame;
use Protocol::WebSocket::Handshake::Client;
use Protocol::WebSocket::URL;

my $VERSION = 'draft-ietf-hybi-00';
my $TIMEOUT = 5;

my $url = shift or die "usage: $0 ws://host:port/path\n";
my $u = Protocol::WebSocket::URL->new->parse($url) or die "cannot parse $url\n";
my $port = $u->port || 80;

my $sock = IO::Socket::INET->new(
    PeerAddr => $u->host,
    PeerPort => $port,
    Proto    => 'tcp',
    Timeout  => $TIMEOUT,
) or die "connect $url: $!\n";
binmode $sock;

# Read some bytes, bounded by $TIMEOUT. Returns '' at EOF.
sub read_some {
    my $rin = '';
    vec($rin, fileno($sock), 1) = 1;
    select(my $rout = $rin, undef, undef, $TIMEOUT) or die "timeout waiting for the server\n";
    my $n = sysread($sock, my $chunk, 65536);
    die "read: $!\n" unless defined $n;
    return $chunk;
}

sub write_all {
    my ($bytes) = @_;
    while (length $bytes) {
        my $n = syswrite($sock, $bytes);
        die "write: $!\n" unless defined $n;
        substr($bytes, 0, $n, '');
    }
}

# --- Opening handshake ---
my $hs = Protocol::WebSocket::Handshake::Client->new(url => $url, version => $VERSION);
my $request = $hs->to_string;
write_all($request);

my $raw  = '';    # the response as received, for the checks below
my $rest = '';    # bytes after the handshake: frames
until ($hs->is_done) {
    my $chunk = read_some();
    die "server closed during the handshake; got: $raw\n" if $chunk eq '';
    $raw .= $chunk;
    $hs->parse($chunk) or die "handshake: " . $hs->error . "\n";
    $rest .= $chunk if $hs->is_done;    # parse() leaves the unparsed tail in $chunk
}
my ($status) = $raw =~ /^([^\r\n]*)\r\n/;
$status eq 'HTTP/1.1 101 WebSocket Protocol Handshake' or die "status line: $status\n";
$raw =~ /\r\nUpgrade: WebSocket\r\n/        or die "no 'Upgrade: WebSocket' in: $raw\n";
$raw =~ /\r\nConnection: Upgrade\r\n/       or die "no 'Connection: Upgrade' in: $raw\n";

my $res      = $hs->res;
my $origin   = 'http://' . $hs->req->host;
my $location = 'ws://' . $hs->req->host . $u->resource_name;
$res->origin eq $origin     or die "Sec-WebSocket-Origin: " . $res->origin . ", want $origin\n";
$res->location eq $location or die "Sec-WebSocket-Location: " . $res->location . ", want $location\n";
# (Protocol::WebSocket already compared the 16-byte answer: "Checksum is wrong.")

# --- Messages ---
my $frames = Protocol::WebSocket::Frame->new(version => $VERSION);
$frames->append($rest);

# Returns the next frame's bytes, or undef for the closing frame.
sub next_frame {
    while (1) {
        my $bytes = $frames->next_bytes;
        if (defined $bytes) {
            return undef if $frames->is_close;
            return $bytes;
        }
        my $chunk = read_some();
        die "server closed the connection unexpectedly\n" if $chunk eq '';
        $frames->append($chunk);
    }
}

my @messages = (
    'hello',
    'héllo wörld ✓ 日本語 𝄞',
    '',
    'x' x 10000,
    'ünïcödé ' x 2000,
);
for my $msg (@messages) {
    my $out = Protocol::WebSocket::Frame->new(version => $VERSION, buffer => $msg);
    write_all($out->to_bytes);
    my $bytes = next_frame();
    die "server closed instead of echoing\n" unless defined $bytes;
    my $got = Encode::decode('UTF-8', $bytes);
    $got eq $msg or die sprintf("echo mismatch: sent %d characters, got %d\n", length $msg, length $got);
}

# --- Closing handshake (draft-76 §6) ---
write_all(Protocol::WebSocket::Frame->new(version => $VERSION, type => 'close')->to_bytes);
my $bytes = next_frame();
die "got a text frame instead of 0xFF 0x00\n" if defined $bytes;
my $tail = read_some();
die "bytes after the closing frame\n" if $tail ne '';
close $sock;
print "ok\n";
