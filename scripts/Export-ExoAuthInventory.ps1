<#
.SYNOPSIS
    Exports what exoauth needs to audit POP, IMAP and SMTP AUTH basic
    authentication in Exchange Online.

.DESCRIPTION
    Writes one UTF-8 CSV file per cmdlet into OutputPath, in the layout that
    `exoauth audit` reads (DESIGN.md section 3):

        AuthenticationPolicy.csv  Get-AuthenticationPolicy (every AllowBasicAuth* switch)
        OrganizationConfig.csv    Get-OrganizationConfig
        TransportConfig.csv       Get-TransportConfig
        CasMailbox.csv            Get-EXOCasMailbox -ResultSize Unlimited -PropertySets Minimum,Pop,Imap
                                  -Properties ExternalDirectoryObjectId,SmtpClientAuthenticationDisabled
        User.csv                  Get-User -ResultSize Unlimited
        SignIns.csv               with -IncludeSignIns: POP3, IMAP4 and Authenticated SMTP
                                  sign-ins of the last -Days days (Get-MgBetaAuditLogSignIn)
        manifest.json             tenant, time, module version, row count per file, and
                                  the sign-in window

    With -IncludeEntra, and when the Microsoft.Graph.Identity.SignIns module is
    installed, it also writes SecurityDefaults.json and
    ConditionalAccessPolicy.json (ConvertTo-Json -Depth 10: the default depth of
    2 would cut the policies' conditions down to type names).

    With -IncludeSignIns it writes SignIns.csv: the Entra sign-in events of the
    last -Days days whose client app is POP3, IMAP4 or Authenticated SMTP, the
    usage evidence that `exoauth audit` joins to each mailbox. Interactive and
    non-interactive sign-ins come from the Graph beta endpoint
    (Microsoft.Graph.Beta.Reports), the only one that lists non-interactive
    sign-ins and user agents; without that module only interactive sign-ins are
    read, from v1.0 (Microsoft.Graph.Reports), and the script says so. Each row
    is flattened (the nested status becomes ErrorCode and FailureReason) and
    streamed to the file as it arrives. Reading sign-in logs over Graph needs
    Microsoft Entra ID P1 or P2 and the AuditLog.Read.All permission; when either
    is missing, the script warns, writes no SignIns.csv (an empty file would read
    as "no mailbox uses basic auth"), and finishes the rest of the export.

    Each file holds exactly the columns exoauth reads, listed once in $Columns
    below; exoauth's test suite checks that list against the parser's.

    The script connects with Connect-ExchangeOnline when no session exists. For
    unattended runs, pass -Organization, -AppId and -CertificateThumbprint
    (app-only authentication). It stops with a message naming the step that
    failed; a half-written folder is left for inspection, never reported as
    complete (manifest.json is written last).

.PARAMETER OutputPath
    The folder to write. Created if missing. Default: .\exoauth-export-<time>.

.PARAMETER Organization
    The tenant's initial domain (contoso.onmicrosoft.com), passed to
    Connect-ExchangeOnline (and to Connect-MgGraph as the tenant) when a
    connection is made.

.PARAMETER AppId
    Application (client) id for app-only authentication. Needs
    -CertificateThumbprint and -Organization.

.PARAMETER CertificateThumbprint
    Thumbprint of the certificate for app-only authentication.

.PARAMETER IncludeEntra
    Also export Entra security defaults and Conditional Access policies with
    Microsoft Graph (scope Policy.Read.All). Skipped with a warning when the
    Microsoft.Graph.Identity.SignIns module is not installed.

.PARAMETER IncludeSignIns
    Also export the POP3, IMAP4 and Authenticated SMTP sign-ins of the last -Days
    days into SignIns.csv with Microsoft Graph (scope AuditLog.Read.All; with
    -IncludeEntra too, one connection asks for both scopes). Needs Microsoft
    Entra ID P1 or P2; without it, download the interactive and non-interactive
    sign-in logs as CSV from the Entra admin center and give them to exoauth
    with --sign-ins instead.

.PARAMETER Days
    How many days of sign-ins -IncludeSignIns reads, from 1 to 30 (the sign-in
    log retention with Entra ID P1 or P2). Default: 30.

.EXAMPLE
    .\Export-ExoAuthInventory.ps1 -OutputPath .\export
    exoauth audit .\export

.EXAMPLE
    .\Export-ExoAuthInventory.ps1 -OutputPath D:\exports\today -Organization contoso.onmicrosoft.com -AppId 00000000-0000-0000-0000-000000000000 -CertificateThumbprint 0123456789ABCDEF0123456789ABCDEF01234567 -IncludeEntra

    An unattended run with app-only authentication.

.EXAMPLE
    .\Export-ExoAuthInventory.ps1 -OutputPath .\export -IncludeSignIns -Days 30
    exoauth audit .\export

    Also writes SignIns.csv, the basic-auth sign-ins of the last 30 days;
    exoauth audit picks it up from the folder and reports which mailboxes
    actually use POP, IMAP or SMTP AUTH.

.NOTES
    Needs the ExchangeOnlineManagement module (v3). -IncludeEntra needs
    Microsoft.Graph.Identity.SignIns; -IncludeSignIns needs
    Microsoft.Graph.Beta.Reports (or, for interactive sign-ins only,
    Microsoft.Graph.Reports), at the same version as the other Microsoft.Graph
    modules loaded. Runs on Windows PowerShell 5.1 and PowerShell 7.
#>
#Requires -Version 5.1
[CmdletBinding()]
param(
    [Parameter()]
    [string] $OutputPath = (Join-Path -Path (Get-Location) -ChildPath ('exoauth-export-' + (Get-Date -Format 'yyyyMMdd-HHmmss'))),

    [Parameter()]
    [string] $Organization,

    [Parameter()]
    [string] $AppId,

    [Parameter()]
    [string] $CertificateThumbprint,

    [Parameter()]
    [switch] $IncludeEntra,

    [Parameter()]
    [switch] $IncludeSignIns,

    [Parameter()]
    [ValidateRange(1, 30)]
    [int] $Days = 30
)

Set-StrictMode -Version 3.0
$ErrorActionPreference = 'Stop'

# The properties selected for each file: exactly the columns exoauth reads
# (exoauth::model::columns::Cmdlet::columns, environment online). Keep this the
# only list; tests/scripts.rs in the exoauth repository checks it.
$Columns = [ordered]@{
    AuthenticationPolicy    = @('Name', 'Identity', 'AllowBasicAuthPop', 'AllowBasicAuthImap', 'AllowBasicAuthSmtp', 'Guid', 'DistinguishedName', 'AllowBasicAuthActiveSync', 'AllowBasicAuthAutodiscover', 'AllowBasicAuthMapi', 'AllowBasicAuthOfflineAddressBook', 'AllowBasicAuthOutlookService', 'AllowBasicAuthPowershell', 'AllowBasicAuthReportingWebServices', 'AllowBasicAuthRpc', 'AllowBasicAuthWebServices')
    OrganizationConfig      = @('DefaultAuthenticationPolicy')
    TransportConfig         = @('SmtpClientAuthenticationDisabled')
    CasMailbox              = @('Guid', 'ExternalDirectoryObjectId', 'PrimarySmtpAddress', 'Identity', 'PopEnabled', 'ImapEnabled', 'Name', 'DisplayName', 'SmtpClientAuthenticationDisabled')
    User                    = @('Guid', 'ExternalDirectoryObjectId', 'UserPrincipalName', 'AuthenticationPolicy', 'RecipientTypeDetails', 'WindowsEmailAddress', 'Identity', 'Name', 'DisplayName', 'AccountDisabled', 'STSRefreshTokensValidFrom')
    SecurityDefaults        = @('IsEnabled')
    ConditionalAccessPolicy = @('State', 'Conditions', 'GrantControls', 'DisplayName', 'Id')
    SignIns                 = @('CreatedDateTime', 'UserId', 'UserPrincipalName', 'UserDisplayName', 'ClientAppUsed', 'IsInteractive', 'ErrorCode', 'FailureReason', 'IPAddress', 'UserAgent', 'AppDisplayName', 'Id')
}

$Activity = 'Exporting the exoauth inventory'
$Step = 'starting'
$RowCounts = [ordered]@{}
$SignInManifest = $null
$SignInCount = 0

function Write-Step {
    param([string] $Status, [int] $Percent)
    $script:Step = $Status
    Write-Progress -Activity $Activity -Status $Status -PercentComplete $Percent
    Write-Verbose -Message $Status
}

function Export-ExoAuthCsv {
    # Streams objects from the pipeline into <Name>.csv with exactly $Columns[$Name],
    # so a large tenant's mailboxes are never all held in memory. Writes the header
    # alone when there are none (Export-Csv writes nothing at all for no input).
    [CmdletBinding()]
    param(
        [Parameter(Mandatory)] [string] $Name,
        [Parameter(ValueFromPipeline)] [object] $InputObject
    )
    begin {
        $path = Join-Path -Path $OutputPath -ChildPath ($Name + '.csv')
        $count = 0
        $writer = { Select-Object -Property $Columns[$Name] | Export-Csv -LiteralPath $path -NoTypeInformation -Encoding UTF8 }.GetSteppablePipeline()
        $writer.Begin($true)
    }
    process {
        if ($null -ne $InputObject) {
            $count++
            $writer.Process($InputObject)
        }
    }
    end {
        $writer.End()
        if ($count -eq 0) {
            $header = '"' + ($Columns[$Name] -join '","') + '"'
            Set-Content -LiteralPath $path -Value $header -Encoding UTF8
        }
        $script:RowCounts[$Name + '.csv'] = $count
    }
}

function Export-ExoAuthJson {
    # Writes <Name>.json with exactly $Columns[$Name]; an array unless -Single.
    param(
        [Parameter(Mandatory)] [string] $Name,
        [Parameter()] [AllowEmptyCollection()] [object[]] $InputObject = @(),
        [Parameter()] [switch] $Single
    )
    $path = Join-Path -Path $OutputPath -ChildPath ($Name + '.json')
    $rows = @($InputObject | Select-Object -Property $Columns[$Name])
    if ($Single -and $rows.Count -eq 1) {
        $json = ConvertTo-Json -InputObject $rows[0] -Depth 10
    }
    else {
        $json = ConvertTo-Json -InputObject $rows -Depth 10
    }
    Set-Content -LiteralPath $path -Value $json -Encoding UTF8
    $script:RowCounts[$Name + '.json'] = $rows.Count
}

function Connect-ExoAuthExchange {
    if (-not (Get-Command -Name Get-EXOCasMailbox -ErrorAction SilentlyContinue)) {
        if (-not (Get-Module -ListAvailable -Name ExchangeOnlineManagement)) {
            throw 'the ExchangeOnlineManagement module is not installed; run: Install-Module ExchangeOnlineManagement -Scope CurrentUser'
        }
        Import-Module -Name ExchangeOnlineManagement
    }
    $connected = $false
    if (Get-Command -Name Get-ConnectionInformation -ErrorAction SilentlyContinue) {
        $connected = $null -ne (Get-ConnectionInformation | Where-Object { $_.State -eq 'Connected' } | Select-Object -First 1)
    }
    if (-not $connected) {
        $connect = @{ ShowBanner = $false }
        if ($Organization) { $connect['Organization'] = $Organization }
        if ($AppId) { $connect['AppId'] = $AppId }
        if ($CertificateThumbprint) { $connect['CertificateThumbprint'] = $CertificateThumbprint }
        Connect-ExchangeOnline @connect
    }
}

function Connect-ExoAuthGraph {
    # One Microsoft Graph connection for every Graph export asked for: Policy.Read.All
    # for -IncludeEntra, AuditLog.Read.All for -IncludeSignIns. A delegated session that
    # lacks one of them is reconnected to the same tenant asking for all of them; an
    # app-only session has the permissions its app registration was granted.
    $scopes = @()
    if ($IncludeEntra) { $scopes += 'Policy.Read.All' }
    if ($IncludeSignIns) { $scopes += 'AuditLog.Read.All' }
    $connect = @{}
    $context = Get-MgContext
    if ($null -ne $context) {
        if ([string](Get-ExoAuthMember -InputObject $context -Name 'AuthType') -ne 'Delegated') { return }
        $granted = @(Get-ExoAuthMember -InputObject $context -Name 'Scopes' | Where-Object { $_ })
        $missing = @($scopes | Where-Object { $granted -notcontains $_ })
        if ($missing.Count -eq 0) { return }
        $scopes = @($granted + $scopes | Sort-Object -Unique)
        $tenant = Get-ExoAuthMember -InputObject $context -Name 'TenantId'
        if ($tenant) { $connect['TenantId'] = [string]$tenant }
    }
    if ($AppId) {
        $connect['ClientId'] = $AppId
        $connect['CertificateThumbprint'] = $CertificateThumbprint
        $connect['TenantId'] = $Organization
    }
    else {
        $connect['Scopes'] = $scopes
    }
    Connect-MgGraph @connect | Out-Null
}

function Export-ExoAuthEntra {
    if (-not (Get-Module -ListAvailable -Name Microsoft.Graph.Identity.SignIns)) {
        Write-Warning -Message 'Microsoft.Graph.Identity.SignIns is not installed: SecurityDefaults.json and ConditionalAccessPolicy.json were not written (Install-Module Microsoft.Graph.Identity.SignIns -Scope CurrentUser)'
        return
    }
    Import-Module -Name Microsoft.Graph.Identity.SignIns
    Connect-ExoAuthGraph
    Write-Step -Status 'Get-MgPolicyIdentitySecurityDefaultEnforcementPolicy' -Percent 85
    Export-ExoAuthJson -Name SecurityDefaults -InputObject @(Get-MgPolicyIdentitySecurityDefaultEnforcementPolicy) -Single
    Write-Step -Status 'Get-MgIdentityConditionalAccessPolicy -All' -Percent 90
    Export-ExoAuthJson -Name ConditionalAccessPolicy -InputObject @(Get-MgIdentityConditionalAccessPolicy -All)
}

function Get-ExoAuthMember {
    # Reads a property without tripping Set-StrictMode: $null when the object or the
    # property is missing. Graph SDK objects keep what their model lacks in
    # AdditionalProperties (camelCase keys), which is looked at too. Names compare
    # case-insensitively.
    param([object] $InputObject, [string] $Name)
    if ($null -eq $InputObject) { return $null }
    $bag = $null
    if ($InputObject -is [System.Collections.IDictionary]) {
        $bag = $InputObject
    }
    else {
        $property = $InputObject.PSObject.Properties[$Name]
        if ($null -ne $property -and $null -ne $property.Value) { return $property.Value }
        $extra = $InputObject.PSObject.Properties['AdditionalProperties']
        if ($null -ne $extra) { $bag = $extra.Value }
    }
    if ($bag -is [System.Collections.IDictionary] -or $bag -is [System.Collections.Generic.IDictionary[string, object]]) {
        foreach ($key in @($bag.Keys)) {
            if ([string]$key -eq $Name) { return $bag[$key] }
        }
    }
    return $null
}

function ConvertTo-ExoAuthUtcText {
    # ISO 8601 in UTC ('o': 2026-01-31T08:15:00.0000000Z) whatever the culture. Graph
    # times are UTC, so a DateTime whose Kind was lost (Unspecified) is taken as UTC,
    # not as local time.
    param([object] $Value)
    if ($null -eq $Value) { return '' }
    $invariant = [System.Globalization.CultureInfo]::InvariantCulture
    if ($Value -is [DateTimeOffset]) { return $Value.UtcDateTime.ToString('o', $invariant) }
    if ($Value -is [datetime]) {
        if ($Value.Kind -eq [System.DateTimeKind]::Unspecified) {
            $Value = [datetime]::SpecifyKind($Value, [System.DateTimeKind]::Utc)
        }
        return $Value.ToUniversalTime().ToString('o', $invariant)
    }
    $parsed = [datetime]::MinValue
    $styles = [System.Globalization.DateTimeStyles]'AssumeUniversal, AdjustToUniversal'
    if ([datetime]::TryParse([string]$Value, $invariant, $styles, [ref]$parsed)) {
        return $parsed.ToString('o', $invariant)
    }
    return [string]$Value
}

function ConvertTo-ExoAuthSignInRow {
    # Flattens one sign-in event of Get-MgBetaAuditLogSignIn / Get-MgAuditLogSignIn into
    # the SignIns columns. The nested Status becomes ErrorCode and FailureReason: no
    # object reaches Export-Csv, which would write its type name instead of values.
    # IsInteractive falls back to the kind of sign-in asked for when the event lacks it.
    [CmdletBinding()]
    param(
        [Parameter(ValueFromPipeline)] [object] $InputObject,
        [Parameter(Mandatory)] [bool] $Interactive,
        [Parameter(Mandatory)] [string] $Label,
        [Parameter(Mandatory)] [int] $Percent
    )
    process {
        if ($null -eq $InputObject) { return }
        $status = Get-ExoAuthMember -InputObject $InputObject -Name 'Status'
        $isInteractive = Get-ExoAuthMember -InputObject $InputObject -Name 'IsInteractive'
        if ($null -eq $isInteractive) { $isInteractive = $Interactive }
        if ($isInteractive -is [string]) { $isInteractive = $isInteractive -eq 'true' }
        $script:SignInCount++
        if ($script:SignInCount % 500 -eq 0) {
            Write-Progress -Activity $Activity -Status ("{0}: {1:N0} sign-ins so far" -f $Label, $script:SignInCount) -PercentComplete $Percent
        }
        [pscustomobject]@{
            CreatedDateTime   = ConvertTo-ExoAuthUtcText -Value (Get-ExoAuthMember -InputObject $InputObject -Name 'CreatedDateTime')
            UserId            = [string](Get-ExoAuthMember -InputObject $InputObject -Name 'UserId')
            UserPrincipalName = [string](Get-ExoAuthMember -InputObject $InputObject -Name 'UserPrincipalName')
            UserDisplayName   = [string](Get-ExoAuthMember -InputObject $InputObject -Name 'UserDisplayName')
            ClientAppUsed     = [string](Get-ExoAuthMember -InputObject $InputObject -Name 'ClientAppUsed')
            IsInteractive     = [string][bool]$isInteractive
            ErrorCode         = [string](Get-ExoAuthMember -InputObject $status -Name 'ErrorCode')
            FailureReason     = [string](Get-ExoAuthMember -InputObject $status -Name 'FailureReason')
            IPAddress         = [string](Get-ExoAuthMember -InputObject $InputObject -Name 'IPAddress')
            UserAgent         = [string](Get-ExoAuthMember -InputObject $InputObject -Name 'UserAgent')
            AppDisplayName    = [string](Get-ExoAuthMember -InputObject $InputObject -Name 'AppDisplayName')
            Id                = [string](Get-ExoAuthMember -InputObject $InputObject -Name 'Id')
        }
    }
}

function Get-ExoAuthGraphFailure {
    # The known reason a Graph sign-in read was refused: 'license', 'permission', or ''
    # for anything else (throttling, network, a bug), which stops the export as any
    # other failed step does.
    param([System.Management.Automation.ErrorRecord] $ErrorRecord)
    $text = '{0} {1} {2}' -f $ErrorRecord, $ErrorRecord.FullyQualifiedErrorId, $ErrorRecord.Exception.Message
    # 403 Authentication_RequestFromNonPremiumTenantOrB2CTenant, "Neither tenant is B2C
    # or tenant doesn't have premium license": checked first, it is a 403 as well.
    if ($text -match 'RequestFromNonPremiumTenantOrB2CTenant|premium license') { return 'license' }
    if ($text -match 'Authorization_RequestDenied|Authentication_MSGraphPermissionMissing|required MSGraph permissions|Insufficient privileges|not in the allowed roles|Forbidden|\b403\b') { return 'permission' }
    return ''
}

function Write-ExoAuthSignInWarning {
    # Says plainly why sign-ins were not read and what to do instead.
    param([string] $Reason, [string] $What, [System.Management.Automation.ErrorRecord] $ErrorRecord)
    $said = ([string]$ErrorRecord -split "`r?`n" | Where-Object { $_.Trim() } | Select-Object -First 1)
    if ($Reason -eq 'license') {
        $message = "$What were not exported: reading sign-in logs over Microsoft Graph needs Microsoft Entra ID P1 or P2, which this tenant lacks (Graph answered: $said). Instead, download the sign-in logs as CSV in the Microsoft Entra admin center (Identity > Monitoring & health > Sign-in logs > Download, once for the interactive and once for the non-interactive user sign-ins; this works in every edition) and give the files to exoauth with --sign-ins."
        if ($Days -gt 7) {
            $message += " Without P1 or P2 the sign-in logs keep only the last 7 days, not the $Days days asked with -Days."
        }
        if ($AppId) {
            $message += ' If the tenant does have P1 or P2, grant the app registration Directory.Read.All as well: app-only reads have been refused with this error without it.'
        }
    }
    else {
        $message = "$What were not exported: Microsoft Graph refused to read the sign-in logs (403; Graph answered: $said). The connection needs the Microsoft Graph permission AuditLog.Read.All, which an administrator must consent to (delegated: consent when Connect-MgGraph asks, or grant admin consent to Microsoft Graph Command Line Tools; app-only: add the application permission AuditLog.Read.All to the app registration and grant admin consent). A signed-in user also needs a role that may read sign-in logs, such as Reports Reader, Security Reader or Global Reader."
    }
    Write-Warning -Message $message
}

function Get-ExoAuthSignIn {
    # Emits the flat SignIns rows: interactive sign-ins, then non-interactive ones (beta
    # only), each source streamed page by page. $State records which sources finished;
    # a refused read (licence, permission) is a warning, anything else is rethrown.
    param(
        [Parameter(Mandatory)] [string] $Window,
        [Parameter(Mandatory)] [bool] $Beta,
        [Parameter(Mandatory)] [hashtable] $State
    )
    $protocols = "(clientAppUsed eq 'Authenticated SMTP' or clientAppUsed eq 'POP3' or clientAppUsed eq 'IMAP4')"
    try {
        if ($Beta) {
            $label = 'Get-MgBetaAuditLogSignIn (interactive)'
            Write-Step -Status $label -Percent 65
            Get-MgBetaAuditLogSignIn -Filter "$Window and $protocols and signInEventTypes/any(t: t eq 'interactiveUser')" -All -ErrorAction Stop |
                ConvertTo-ExoAuthSignInRow -Interactive $true -Label $label -Percent 65
        }
        else {
            $label = 'Get-MgAuditLogSignIn (interactive)'
            Write-Step -Status $label -Percent 65
            Get-MgAuditLogSignIn -Filter "$Window and $protocols" -All -ErrorAction Stop |
                ConvertTo-ExoAuthSignInRow -Interactive $true -Label $label -Percent 65
        }
        $State['Interactive'] = $true
    }
    catch {
        $reason = Get-ExoAuthGraphFailure -ErrorRecord $_
        if (-not $reason) { throw }
        Write-ExoAuthSignInWarning -Reason $reason -What 'Sign-ins' -ErrorRecord $_
        $State['Reason'] = $reason
        return
    }
    if (-not $Beta) { return }
    try {
        $label = 'Get-MgBetaAuditLogSignIn (non-interactive)'
        Write-Step -Status $label -Percent 75
        Get-MgBetaAuditLogSignIn -Filter "$Window and $protocols and signInEventTypes/any(t: t eq 'nonInteractiveUser')" -All -ErrorAction Stop |
            ConvertTo-ExoAuthSignInRow -Interactive $false -Label $label -Percent 75
        $State['NonInteractive'] = $true
    }
    catch {
        $reason = Get-ExoAuthGraphFailure -ErrorRecord $_
        if (-not $reason) { throw }
        Write-ExoAuthSignInWarning -Reason $reason -What 'Non-interactive sign-ins (exoauth will warn that the evidence holds interactive sign-ins only)' -ErrorRecord $_
    }
}

function Export-ExoAuthSignIns {
    # SignIns.csv: POP3, IMAP4 and Authenticated SMTP sign-ins of the last $Days days.
    # The window is fixed once (whole seconds, UTC) so both sources and the manifest
    # agree on it. No file is left when nothing could be read: an empty SignIns.csv
    # would tell exoauth that no mailbox uses basic auth.
    $to = [datetime]::UtcNow
    $to = $to.AddTicks(-($to.Ticks % [TimeSpan]::TicksPerSecond))
    $from = $to.AddDays(-$Days)
    $invariant = [System.Globalization.CultureInfo]::InvariantCulture
    $window = 'createdDateTime ge {0}Z and createdDateTime le {1}Z' -f $from.ToString('s', $invariant), $to.ToString('s', $invariant)
    $script:SignInManifest = [ordered]@{
        file           = $null
        from           = $from.ToString('o')
        to             = $to.ToString('o')
        days           = $Days
        rows           = 0
        interactive    = $false
        nonInteractive = $false
        endpoint       = $null
        reason         = $null
    }

    $beta = [bool](Get-Module -ListAvailable -Name Microsoft.Graph.Beta.Reports)
    $v1 = [bool](Get-Module -ListAvailable -Name Microsoft.Graph.Reports)
    if (-not $beta -and -not $v1) {
        Write-Warning -Message 'Neither Microsoft.Graph.Beta.Reports nor Microsoft.Graph.Reports is installed: sign-ins were not exported and SignIns.csv was not written (Install-Module Microsoft.Graph.Beta.Reports -Scope CurrentUser, which reads interactive and non-interactive sign-ins)'
        $script:SignInManifest['reason'] = 'module'
        return
    }
    $module = 'Microsoft.Graph.Reports'
    if ($beta) { $module = 'Microsoft.Graph.Beta.Reports' }
    try {
        Import-Module -Name $module
    }
    catch {
        Write-Warning -Message "$module could not be loaded, so sign-ins were not exported: $($_.Exception.Message) (a Microsoft.Graph module of another version may already be loaded: install the same version of every Microsoft.Graph module, or start a new PowerShell session)"
        $script:SignInManifest['reason'] = 'module'
        return
    }
    if (-not $beta) {
        Write-Warning -Message 'Microsoft.Graph.Beta.Reports is not installed: non-interactive sign-ins are not exported, only interactive ones, and without user agents (Graph v1.0 returns neither); exoauth will warn that the evidence holds interactive sign-ins only (Install-Module Microsoft.Graph.Beta.Reports -Scope CurrentUser)'
    }
    Connect-ExoAuthGraph

    $state = @{ Interactive = $false; NonInteractive = $false; Reason = $null }
    $script:SignInCount = 0
    Get-ExoAuthSignIn -Window $window -Beta $beta -State $state | Export-ExoAuthCsv -Name SignIns
    if (-not $state['Interactive']) {
        Remove-Item -LiteralPath (Join-Path -Path $OutputPath -ChildPath 'SignIns.csv') -ErrorAction SilentlyContinue
        $script:RowCounts.Remove('SignIns.csv')
        $script:SignInManifest['reason'] = $state['Reason']
        return
    }
    $script:SignInManifest['file'] = 'SignIns.csv'
    $script:SignInManifest['rows'] = $script:RowCounts['SignIns.csv']
    $script:SignInManifest['interactive'] = $true
    $script:SignInManifest['nonInteractive'] = [bool]$state['NonInteractive']
    if ($beta) { $script:SignInManifest['endpoint'] = 'beta' } else { $script:SignInManifest['endpoint'] = 'v1.0' }
}

try {
    if ($AppId -and (-not $CertificateThumbprint -or -not $Organization)) {
        throw 'app-only authentication needs -AppId, -CertificateThumbprint and -Organization together'
    }
    if ($PSBoundParameters.ContainsKey('Days') -and -not $IncludeSignIns) {
        Write-Warning -Message '-Days only applies with -IncludeSignIns; no sign-ins are exported'
    }
    Write-Step -Status 'Connecting to Exchange Online' -Percent 0
    Connect-ExoAuthExchange

    Write-Step -Status "Creating $OutputPath" -Percent 5
    New-Item -Path $OutputPath -ItemType Directory -Force | Out-Null

    Write-Step -Status 'Get-AuthenticationPolicy' -Percent 10
    try {
        $policies = @(Get-AuthenticationPolicy)
    }
    catch {
        # Tenants without any policy may answer "couldn't be found" (Microsoft365DSC handles the same).
        if ("$_" -notlike "*couldn't be found*") { throw }
        Write-Warning -Message 'Get-AuthenticationPolicy found no policies; AuthenticationPolicy.csv holds the header only'
        $policies = @()
    }
    $policies | Export-ExoAuthCsv -Name AuthenticationPolicy

    Write-Step -Status 'Get-OrganizationConfig' -Percent 15
    $org = Get-OrganizationConfig
    $org | Export-ExoAuthCsv -Name OrganizationConfig

    Write-Step -Status 'Get-TransportConfig' -Percent 20
    Get-TransportConfig | Export-ExoAuthCsv -Name TransportConfig

    Write-Step -Status 'Get-EXOCasMailbox -ResultSize Unlimited (this takes a while in a large tenant)' -Percent 25
    Get-EXOCasMailbox -ResultSize Unlimited -PropertySets Minimum, Pop, Imap -Properties ExternalDirectoryObjectId, SmtpClientAuthenticationDisabled |
        Export-ExoAuthCsv -Name CasMailbox

    Write-Step -Status 'Get-User -ResultSize Unlimited (this takes a while in a large tenant)' -Percent 55
    Get-User -ResultSize Unlimited | Export-ExoAuthCsv -Name User

    if ($IncludeSignIns) {
        Export-ExoAuthSignIns
    }

    if ($IncludeEntra) {
        Export-ExoAuthEntra
    }

    Write-Step -Status 'Writing manifest.json' -Percent 95
    $module = Get-Module -Name ExchangeOnlineManagement | Select-Object -First 1
    $manifest = [ordered]@{
        tool          = 'Export-ExoAuthInventory.ps1'
        environment   = 'online'
        tenant        = [string]$org.Name
        time          = (Get-Date).ToUniversalTime().ToString('o')
        module        = 'ExchangeOnlineManagement'
        moduleVersion = if ($module) { [string]$module.Version } else { 'unknown' }
        rows          = $RowCounts
    }
    if ($null -ne $SignInManifest) {
        $manifest['signIns'] = $SignInManifest
    }
    $manifestPath = Join-Path -Path $OutputPath -ChildPath 'manifest.json'
    Set-Content -LiteralPath $manifestPath -Value (ConvertTo-Json -InputObject $manifest -Depth 5) -Encoding UTF8
    Write-Progress -Activity $Activity -Completed
    Write-Host "exoauth inventory written to $OutputPath; next: exoauth audit `"$OutputPath`""
}
catch {
    Write-Progress -Activity $Activity -Completed
    throw "Export-ExoAuthInventory failed while '$Step': $($_.Exception.Message)"
}
