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
        manifest.json             tenant, time, module version, row count per file

    With -IncludeEntra, and when the Microsoft.Graph.Identity.SignIns module is
    installed, it also writes SecurityDefaults.json and
    ConditionalAccessPolicy.json (ConvertTo-Json -Depth 10: the default depth of
    2 would cut the policies' conditions down to type names).

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

.EXAMPLE
    .\Export-ExoAuthInventory.ps1 -OutputPath .\export
    exoauth audit .\export

.EXAMPLE
    .\Export-ExoAuthInventory.ps1 -OutputPath D:\exports\today -Organization contoso.onmicrosoft.com -AppId 00000000-0000-0000-0000-000000000000 -CertificateThumbprint 0123456789ABCDEF0123456789ABCDEF01234567 -IncludeEntra

    An unattended run with app-only authentication.

.NOTES
    Needs the ExchangeOnlineManagement module (v3). Runs on Windows PowerShell
    5.1 and PowerShell 7.
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
    [switch] $IncludeEntra
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
}

$Activity = 'Exporting the exoauth inventory'
$Step = 'starting'
$RowCounts = [ordered]@{}

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

function Export-ExoAuthEntra {
    if (-not (Get-Module -ListAvailable -Name Microsoft.Graph.Identity.SignIns)) {
        Write-Warning -Message 'Microsoft.Graph.Identity.SignIns is not installed: SecurityDefaults.json and ConditionalAccessPolicy.json were not written (Install-Module Microsoft.Graph.Identity.SignIns -Scope CurrentUser)'
        return
    }
    Import-Module -Name Microsoft.Graph.Identity.SignIns
    if ($null -eq (Get-MgContext)) {
        $connect = @{}
        if ($AppId) {
            $connect['ClientId'] = $AppId
            $connect['CertificateThumbprint'] = $CertificateThumbprint
            $connect['TenantId'] = $Organization
        }
        else {
            $connect['Scopes'] = @('Policy.Read.All')
        }
        Connect-MgGraph @connect | Out-Null
    }
    Write-Step -Status 'Get-MgPolicyIdentitySecurityDefaultEnforcementPolicy' -Percent 85
    Export-ExoAuthJson -Name SecurityDefaults -InputObject @(Get-MgPolicyIdentitySecurityDefaultEnforcementPolicy) -Single
    Write-Step -Status 'Get-MgIdentityConditionalAccessPolicy -All' -Percent 90
    Export-ExoAuthJson -Name ConditionalAccessPolicy -InputObject @(Get-MgIdentityConditionalAccessPolicy -All)
}

try {
    if ($AppId -and (-not $CertificateThumbprint -or -not $Organization)) {
        throw 'app-only authentication needs -AppId, -CertificateThumbprint and -Organization together'
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
    $manifestPath = Join-Path -Path $OutputPath -ChildPath 'manifest.json'
    Set-Content -LiteralPath $manifestPath -Value (ConvertTo-Json -InputObject $manifest -Depth 5) -Encoding UTF8
    Write-Progress -Activity $Activity -Completed
    Write-Host "exoauth inventory written to $OutputPath; next: exoauth audit `"$OutputPath`""
}
catch {
    Write-Progress -Activity $Activity -Completed
    throw "Export-ExoAuthInventory failed while '$Step': $($_.Exception.Message)"
}
