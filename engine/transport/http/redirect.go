package http

import (
	"fmt"
	nethttp "net/http"
	"net/url"

	"bits/hresult"
)

// BITS' redirect policy, in the job's security flags.
const (
	redirectPolicyMask  = 0x700
	redirectAllowSilent = 0x000 // follow, keep the remote name
	redirectAllowReport = 0x100 // follow, report the final URL
	redirectDisallow    = 0x200 // a redirect is an error
	redirectHTTPSToHTTP = 0x800 // BG_HTTP_REDIRECT_POLICY_ALLOW_HTTPS_TO_HTTP
)

// redirectPolicy returns the http.Client CheckRedirect for a job's
// security flags. Whatever the flags say, it stops after ten redirects (as
// WinHTTP does), never follows one to another scheme than http and https
// (file:, smb:), nor to a URL that carries a user name or password, since
// remote names may not. A refusal is the redirect's own status as
// BG_E_HTTP_ERROR_3xx, fatal.
func redirectPolicy(flags uint32) func(*nethttp.Request, []*nethttp.Request) error {
	return func(req *nethttp.Request, via []*nethttp.Request) error {
		status := nethttp.StatusFound
		if req.Response != nil {
			status = req.Response.StatusCode
		}
		from, to := via[len(via)-1].URL, req.URL
		var why string
		switch {
		case flags&redirectPolicyMask == redirectDisallow:
			why = fmt.Sprintf("the job's redirect policy forbids redirects (to %s)", to.Redacted())
		case len(via) > maxRedirects:
			why = fmt.Sprintf("stopped after %d redirects", maxRedirects)
		case to.Scheme != "http" && to.Scheme != "https":
			why = "refused a redirect to " + to.Redacted()
		case to.User != nil:
			why = "refused a redirect to a URL with a user name or password"
		case from.Scheme == "https" && to.Scheme == "http" && flags&redirectHTTPSToHTTP == 0:
			why = fmt.Sprintf("refused a redirect from HTTPS to HTTP (%s)", to.Redacted())
		default:
			return nil
		}
		return hresult.Fatal(hresult.HTTP(status), hresult.ContextRemoteFile, "%s", why)
	}
}

// reportedURL returns the URL a response came from when the job's policy
// is ALLOW_REPORT and the server redirected, else "".
func reportedURL(flags uint32, asked *url.URL, resp *nethttp.Response) string {
	if flags&redirectPolicyMask != redirectAllowReport || resp.Request == nil || resp.Request.URL == nil {
		return ""
	}
	if final := resp.Request.URL; final.String() != asked.String() {
		return final.String()
	}
	return ""
}
